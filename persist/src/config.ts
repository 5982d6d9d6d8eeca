// persist's environment: the kit's base keys, its database, and its two-phase-commit timings.
import { z } from 'zod';
import { baseConfigShape, env, participantConfigShape } from '@notify/lib';
import { databaseConfigShape } from '@notify/lib/db';

export const configSchema = z.object({
  ...baseConfigShape({ port: 6000 }),
  // A notification names every recipient: 100,000 user ids take about 4 MB.
  BODY_LIMIT_BYTES: env.int(8_388_608, 'Largest request body accepted (8 MiB: a notification to 100,000 recipients)', 1_024),
  ...databaseConfigShape('persist'),
  ...participantConfigShape(),
});

export type Config = z.infer<typeof configSchema>;
