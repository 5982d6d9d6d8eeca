// mailer's environment: the kit's base keys, its job-queue database, the SMTP server, and the
// limits the original mailer's supervisor had (concurrent sends per node, per-send timeout), plus retries.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';
import { databaseConfigShape } from '@notify/lib/db';

export const configSchema = z.object({
  ...baseConfigShape({ port: 7000 }),
  // Sends in hand finish before the node stops: longer than SEND_EMAIL_TIMEOUT_MS plus the queue's stop.
  SHUTDOWN_TIMEOUT_MS: env.int(30_000, 'Longest a graceful stop may take before the process exits anyway (sends in hand get SEND_EMAIL_TIMEOUT_MS to finish)', 1_000),
  ...databaseConfigShape('mailer (its durable job queue, pg-boss)'),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })
    .default('smtp://127.0.0.1:2525')
    .describe('SMTP server the emails go to (smtp:// or smtps://; user and password in the URL when it needs them)'),
  MAIL_FROM: env.string('Notify <notify@localhost>', 'Sender of every email (From header and envelope)'),
  CLIENT_URL: env.string('http://localhost:3333', 'Address of the web client the emails link to'),
  MAX_CONCURRENT_SENDS: env.int(4, 'Emails one node sends at once (its workers; like the original mailer’s DynamicSupervisor max_children)', 1),
  SEND_EMAIL_TIMEOUT_MS: env.int(10_000, 'Longest one send may take (connect, greeting, data and the server’s answer); a slower one fails and is retried', 100),
  ENABLE_REST_API: env.bool(true, 'Serve the REST API that enqueues and inspects jobs (registered with the `api` tag); false: a worker-only node'),
  // 30 retries, doubling up to 5 min apart: about two hours of SMTP (or auth) outage before giving up.
  SEND_RETRY_LIMIT: env.int(30, 'Retries of a failed send before the job is dead-lettered (30 at up to 5 min apart: about two hours)', 0),
  SEND_RETRY_DELAY_SECONDS: env.int(1, 'Pause before the first retry; it doubles with every retry (with jitter)', 1),
  SEND_RETRY_DELAY_MAX_SECONDS: env.int(300, 'Longest pause between retries', 1),
  JOB_HEARTBEAT_SECONDS: env.int(10, 'A job whose node stops heartbeating it this long (a killed node) is given to another node (pg-boss minimum 10)', 10),
  QUEUE_POLL_INTERVAL_MS: env.int(2_000, 'How often idle workers look for jobs; new jobs also wake them at once through LISTEN/NOTIFY (pg-boss minimum 500)', 500),
  QUEUE_MONITOR_INTERVAL_SECONDS: env.int(5, 'How often the queue looks for jobs whose node stopped heartbeating or that ran past their time', 1),
  UPSTREAM_TIMEOUT_MS: env.int(5_000, 'Deadline of one call to auth (addresses) or persist (email preferences, the emailed event)', 1),
});

export type Config = z.infer<typeof configSchema>;
