// counter's environment: the kit's base keys, its database, and its two-phase-commit timings.
import { z } from 'zod';
import { baseConfigShape, participantConfigShape } from '@notify/lib';
import { databaseConfigShape } from '@notify/lib/db';

export const configSchema = z.object({
  ...baseConfigShape({ port: 2000 }),
  ...databaseConfigShape('counter'),
  ...participantConfigShape(),
});

export type Config = z.infer<typeof configSchema>;
