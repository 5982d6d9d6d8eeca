// auth's environment: the kit's base keys plus database, sessions, API keys, cache, replication and rate limits.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';
import { databaseConfigShape } from '@notify/lib/db';

/**
 * TRUST_PROXY as fastify's trustProxy: "false" (or unset) trusts no proxy, so the client is the
 * peer; "true" trusts every proxy; anything else is the list of trusted addresses, CIDRs or
 * fastify's names (loopback, linklocal, uniquelocal), comma-separated.
 */
export function parseTrustProxy(value: string): string | boolean {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'false') return false;
  if (trimmed.toLowerCase() === 'true') return true;
  return trimmed;
}

export const configSchema = z.object({
  ...baseConfigShape({ port: 5000 }),
  BODY_LIMIT_BYTES: env.int(16_384, 'Largest request body accepted (auth bodies are small)', 1_024),
  ...databaseConfigShape('auth (users, sessions)'),
  SESSION_TTL_MS: env.int(7 * 24 * 3600_000, 'How long a session token lives after login', 60_000),
  API_KEYS_MAX_PER_USER: env.int(20, 'API keys one user may hold at once (not revoked); one more is refused with CONFLICT', 1),
  CACHE_TTL_MS: env.int(5_000, 'Longest a cached session or user is served without the database: bounds a missed invalidation', 100),
  CACHE_MAX_ENTRIES: env.int(100_000, 'Entries each local cache holds at most (oldest evicted first)', 100),
  REPLICATION_TIMEOUT_MS: env.int(100, 'Longest a write waits for the other auth nodes to acknowledge it', 10),
  REPLICATION_SECRET: env.optionalString(
    'Shared secret of the auth nodes: sent with every cache invalidation and required on receipt (unset: the internal route is open)',
  ),
  LOGIN_MAX_FAILURES: env.int(5, 'Failed logins per email or per client within the window before 429', 1),
  LOGIN_FAILURE_WINDOW_MS: env.int(15 * 60_000, 'Window of the failed-login and registration counts', 1_000),
  REGISTER_MAX_PER_CLIENT: env.int(20, 'Registrations per client within LOGIN_FAILURE_WINDOW_MS before 429', 1),
  PASSWORD_MEMORY_KIB: env.int(19_456, 'argon2id memory cost in KiB (19 MiB: OWASP’s minimum)', 1_024),
  PASSWORD_ITERATIONS: env.int(2, 'argon2id time cost (passes over memory)', 1),
  WELCOME_EMAILS: env.bool(true, 'Send each new user a welcome email through the mailer (owed emails wait in an outbox table until the mailer takes them)'),
  WELCOME_RELAY_INTERVAL_MS: env.int(5_000, 'How often owed welcome emails are offered to the mailer again (after an outage or a crash); each registration also sends at once', 100),
  MAILER_TIMEOUT_MS: env.int(5_000, 'Deadline of one call to the mailer', 1),
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform(parseTrustProxy)
    .describe(
      'Proxies whose X-Forwarded-For names the client, as fastify trustProxy: false (none; the client is the peer), true (any), or addresses, CIDRs, loopback, linklocal, uniquelocal',
    ),
});

export type Config = z.infer<typeof configSchema>;
