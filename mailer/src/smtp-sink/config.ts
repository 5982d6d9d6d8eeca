// The SMTP sink's environment (npm start only): the kit's base keys (its web page's port) plus the
// SMTP port it receives on.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';

export const sinkConfigSchema = z.object({
  ...baseConfigShape({ port: 8025, browser: true }),
  SMTP_PORT: env.port(2525, 'Port the sink receives SMTP on (the mailers’ SMTP_URL)'),
  SINK_MAX_MESSAGES: env.int(1_000, 'Emails the sink keeps (oldest dropped first)', 1),
});
export type SinkConfig = z.infer<typeof sinkConfigSchema>;
