// The gateway's environment: the kit's base keys, its database (2PC log, push bus), connection
// limits, cache lifetimes, upstream deadlines and breakers, the coordinator's timings, and the REST API's rate per key.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';
import { databaseConfigShape } from '@notify/lib/db';

export const configSchema = z.object({
  ...baseConfigShape({ port: 4000, browser: true }),
  ...databaseConfigShape('gateway'),
  // 1 MiB: a publication naming 10,000 recipients in `to` (about 400 KB of ids) fits.
  MAX_FRAME_BYTES: env.int(1_048_576, 'Largest WebSocket message a client may send (larger: the connection is closed, code 1009)', 1_024),
  MAX_INFLIGHT_PER_CONNECTION: env.int(64, 'Calls one connection may have unanswered at once; more are refused with RATE_LIMITED', 1),
  MAX_INFLIGHT_PER_USER: env.int(128, 'Calls one user may have under way at once across all their connections to this instance (before login: one address); more wait their turn, and their connection is not read meanwhile', 1),
  CALLS_PER_SECOND_PER_USER: env.int(100, 'Calls a second one user may start on average across their connections to this instance (before login: one address); faster ones wait their turn, and their connection is not read meanwhile; 0: no limit'),
  CALL_BURST_PER_USER: env.int(200, 'Calls one user may start at once after a quiet spell (the rate limit’s bucket)', 1),
  MAX_CONNECTIONS_PER_ADDRESS: env.int(256, 'Connections one remote address may hold at once on this instance (both transports); more are refused with RATE_LIMITED', 1),
  MAX_CONNECTIONS_PER_USER: env.int(32, 'Connections one user may hold at once on this instance; a login or token past it is refused with RATE_LIMITED', 1),
  MAX_UNREAD_BYTES: env.int(16 * 1024 * 1024, 'Bytes of answers and pushes a connection may leave unread (its client stopped reading) before it is closed (both transports)', 1_024),
  AUTH_DEADLINE_MS: env.int(60_000, 'A connection without a user (new, or logged out) is closed unless it logs in within this long (JSON-RPC: 4408; socket.io: a server disconnect); 0 never closes it'),
  MAX_CONNECTIONS: env.int(50_000, 'Connections this instance accepts at once (both transports); more are refused', 1),
  TOKEN_CACHE_TTL_MS: env.int(5_000, 'How long a token resolved by auth is trusted without asking again (logout through any gateway evicts it at once)', 0),
  SUBSCRIBERS_CACHE_TTL_MS: env.int(30_000, 'How long a topic’s subscriber list is reused; changes through any gateway evict it, and persist refuses a stale list', 0),
  CACHE_MAX_ENTRIES: env.int(100_000, 'Entries each gateway cache holds at most (oldest evicted first)', 1),
  UPSTREAM_TIMEOUT_MS: env.int(5_000, 'Deadline of one call to auth, persist or counter, retries included', 1),
  BREAKER_ERROR_THRESHOLD_PERCENT: env.int(50, 'Failure share (%) over the window that opens an instance’s circuit breaker', 1),
  BREAKER_VOLUME_THRESHOLD: env.int(3, 'Calls in the window before the failure share counts', 1),
  BREAKER_RESET_MS: env.int(5_000, 'How long a breaker stays open before one trial call (half-open)', 1),
  BREAKER_WINDOW_MS: env.int(10_000, 'Length of the breaker’s rolling window', 100),
  TWO_PC_PREPARE_TIMEOUT_MS: env.int(5_000, 'Deadline of each prepare; a participant holding a prepared transaction longer asks the gateway', 1),
  TWO_PC_DECISION_TIMEOUT_MS: env.int(2_000, 'Deadline of one phase-2 call (retried with backoff until acknowledged)', 1),
  TWO_PC_RETRY_MAX_MS: env.int(5_000, 'Longest pause between phase-2 retries', 1),
  TWO_PC_MAX_CONCURRENT: env.int(1_024, 'Publishes and acks under way at once per gateway (their reads and their transaction); more wait their turn in arrival order', 1),
  TWO_PC_BATCHES_IN_FLIGHT: env.int(2, 'Group commit: batches of one kind (publish, ack) under way at once per gateway; transactions arriving meanwhile form the next batch', 1),
  TWO_PC_BATCH_MAX_ITEMS: env.int(256, 'Group commit: most transactions in one batch (one log write, one prepare and one commit request per participant); 1 turns batching off', 1),
  TWO_PC_MAX_QUEUED: env.int(10_000, 'Transactions that may wait for a turn; beyond, publish and ack answer UNAVAILABLE (retry)', 0),
  TWO_PC_LEASE_MS: env.int(15_000, 'How long an open transaction stays this gateway’s without renewal; after that another gateway finishes it', 1_000),
  TWO_PC_RECOVERY_INTERVAL_MS: env.int(5_000, 'How often the coordinator looks for transactions left in doubt (its own after a database outage, or a dead gateway’s past their lease) and finishes them', 100),
  TWO_PC_REPLY_WAIT_MS: env.int(2_000, 'Longest a publish or ack waits for phase 2 before answering (the push still follows phase 2)', 0),
  IDEMPOTENCY_WAIT_MS: env.int(10_000, 'Longest a publish repeated with an idempotency key waits for an earlier attempt still being decided (a gateway that died mid-publication); then TIMEOUT, to be sent again', 0),
  API_KEY_RATE_PER_SECOND: env.int(10, 'REST API requests one API key may make a second on average on this instance (a token bucket per key); more answer 429 with Retry-After; 0: no limit'),
  API_KEY_BURST: env.int(20, 'REST API requests one API key may make at once after a quiet spell (the bucket’s size)', 1),
  PUBLIC_URL: env.optionalUrl('Address people reach the gateways at: the one-click unsubscribe links in emails point here (unset: this instance, http://ADVERTISE_ADDRESS:PORT)'),
  UNSUBSCRIBE_SECRET: z
    .string()
    .min(32, 'must have at least 32 characters (e.g. openssl rand -base64 32)')
    .optional()
    .describe('Key the one-click unsubscribe links in emails are signed with (HMAC-SHA256), the same on every gateway; unset: derived from SERVICE_SECRET'),
  TRACE_VIEW_URL: z
    .string()
    .refine((template) => template.includes('{traceId}'), 'must contain {traceId}')
    .refine((template) => /^https?:$/.test(URL.parse(template.replaceAll('{traceId}', '0'.repeat(32)))?.protocol ?? ''), 'must be an http or https URL')
    .optional()
    .describe('Where a trace is seen (a trace viewer such as Jaeger): a URL with {traceId}, e.g. http://localhost:16686/trace/{traceId}; notifications.trace answers it as traceUrl. Unset: traceUrl is null'),
  PUSH_CHANNEL: env.string('gateway_push', 'PostgreSQL NOTIFY channel the gateway instances share pushes and invalidations on'),
  AVATAR_BASE_PATH: env.string('/avatars', 'Path prefix of the avatar URLs users.me answers with, where the gateway proxies them to the avatar service'),
  AVATAR_TIMEOUT_MS: env.int(15_000, 'Deadline of one proxied avatar request; longer than the avatar service’s own RENDER_TIMEOUT_MS, so its 504 reaches the client', 1),
  AVATAR_CACHE_MAX_BYTES: env.int(32 * 1024 * 1024, 'Bytes of immutable (versioned) avatar variants this gateway keeps and serves without asking the avatar service (least recently used evicted first); 0: none kept'),
  AVATAR_CACHE_MAX_ENTRIES: env.int(50_000, 'Avatar variants the gateway’s cache of immutable answers holds at most', 1),
  AVATAR_VERSIONS_TTL_MS: env.int(300_000, 'How long a user’s avatar version is reused in the avatar URLs this gateway hands out without asking again (an upload or removal through any gateway updates it at once)', 0),
  AVATAR_VERSIONS_TIMEOUT_MS: env.int(1_000, 'Deadline of one read of avatar versions; past it (or with the avatar service down) URLs are handed out without a version for a while instead of failing the call', 1),
  AVATAR_UPLOADS_PER_MINUTE: env.int(10, 'Picture uploads and removals one user may make a minute on average on this instance (a token bucket per user); more answer 429 with Retry-After; 0: no limit'),
  AVATAR_UPLOAD_BURST: env.int(5, 'Picture uploads and removals one user may make at once after a quiet spell (the bucket’s size)', 1),
  FAULT_KILL_AFTER_DECISION: env.bool(false, 'Testing only: SIGKILL this process right after its first decision is durable, before phase 2'),
  FAULT_KILL_MID_PREPARE: env.bool(false, 'Testing only: SIGKILL this process once a batch’s prepares have been answered, before its decision'),
  FAULT_KILL_BATCH_MIN: env.int(1, 'Testing only: the FAULT_KILL_* switches fire on the first batch of at least this many transactions', 1),
});

export type Config = z.infer<typeof configSchema>;
