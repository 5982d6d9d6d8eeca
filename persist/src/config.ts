// persist's environment: the kit's base keys plus its database and two-phase-commit timings.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';

export const configSchema = z.object({
  ...baseConfigShape({ port: 6000 }),
  DATABASE_URL: z.url().describe('PostgreSQL database of persist (topics, subscriptions, notifications); required'),
  DB_POOL_SIZE: env.int(10, 'Connections in the database pool', 1),
  COORDINATOR_SERVICE: env.string('gateway', 'Discovery name of the two-phase-commit coordinator'),
  TWO_PC_SWEEP_INTERVAL_MS: env.int(1_000, 'How often prepared transactions past their timeout are resolved with the coordinator', 50),
  COORDINATOR_TIMEOUT_MS: env.int(2_000, 'Longest a question to the coordinator may take', 50),
});

export type Config = z.infer<typeof configSchema>;
