// The gateway's client API as code: every RPC method's params schema, its result type, and the
// server pushes. The gateway validates with these schemas and the React client compiles against
// the same types, so a contract change breaks both builds. Browser-safe: imports zod, the kit's error codes and the shared answer shapes only.
import { z } from 'zod';
import type { ErrorCode } from '../errors.ts';
import { httpUrl, type notificationShape, type subscriberShape, type subscriptionShape, type topicShape, type traceEventShape, type userPreferencesShape } from '../contracts/shapes.ts';

// errors.ts is plain TypeScript with no imports, so the browser gets the same list of codes.
export type RpcErrorCode = ErrorCode;

/**
 * An error as the client sees it (socket.io ack `{error}`, JSON-RPC `error.data`). Without the
 * services' `retryable`: whether a client may send a call again depends on the method and on
 * `details` (`aborted`, `retryAfterSeconds`), as docs/client-api.md says per method.
 */
export interface RpcError {
  code: RpcErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

const id = (what: string) => z.uuid({ message: `must be a ${what} id (uuid)` });
const limit = z.number().int().min(1).max(100).optional();
const cursor = z.string().min(1).max(500).optional();
const email = z.string().trim().max(254).pipe(z.email({ message: 'must be an email address' }));

/** Params of every method; `{}` when a method takes none (extra keys are refused everywhere). */
export const RPC_PARAMS = {
  'users.register': z.strictObject({
    email,
    password: z.string().min(8, 'must be at least 8 characters').max(1024),
    name: z.string().trim().min(1, 'must not be empty').max(100),
  }),
  'users.login': z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) }),
  'users.logout': z.strictObject({}),
  'users.me': z.strictObject({}),
  'topics.create': z.strictObject({
    name: z.string().trim().min(1, 'must not be empty').max(100),
    description: z.string().trim().max(1_000).optional(),
  }),
  'topics.list': z.strictObject({ mine: z.boolean().optional(), subscribed: z.boolean().optional(), limit, cursor }),
  'topics.get': z.strictObject({ topicId: id('topic') }),
  'topics.subscribers': z.strictObject({ topicId: id('topic'), limit, cursor }),
  'topics.delete': z.strictObject({ topicId: id('topic') }),
  'topics.subscribe': z.strictObject({ topicId: id('topic') }),
  'topics.unsubscribe': z.strictObject({ topicId: id('topic') }),
  'topics.preferences': z.strictObject({ topicId: id('topic'), muted: z.boolean().optional(), email: z.boolean().optional() }),
  'preferences.get': z.strictObject({}),
  'preferences.set': z.strictObject({
    email: z.boolean().optional(),
    digest: z
      .strictObject({ threshold: z.number().int().min(1).max(1_000), windowMinutes: z.number().min(0.1).max(10_080) })
      .nullable()
      .optional(),
  }),
  'notifications.publish': z.strictObject({
    topicId: id('topic'),
    title: z.string().trim().min(1, 'must not be empty').max(200),
    body: z.string().max(10_000),
    email: z.boolean().optional(),
    /** An action link shown with the notification: http or https only. */
    url: httpUrl.optional(),
    to: z
      .array(z.string().min(1).max(128))
      .min(1, 'must name at least one subscriber (leave it out to reach all)')
      .max(10_000)
      .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a user')
      .optional(),
    /** A publish repeated with the same key (by the same publisher) answers the first one and creates nothing. */
    idempotencyKey: z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters')
      .optional(),
  }),
  'notifications.list': z.strictObject({ unreadOnly: z.boolean().optional(), topicId: id('topic').optional(), archived: z.boolean().optional(), limit, cursor }),
  'notifications.ack': z.strictObject({ notificationId: id('notification') }),
  'notifications.readAll': z.strictObject({ topicId: id('topic').optional() }),
  'notifications.archive': z.strictObject({ notificationId: id('notification'), archived: z.boolean().optional() }),
  'notifications.trace': z.strictObject({ notificationId: id('notification') }),
  'counters.get': z.strictObject({}),
  'apiKeys.create': z.strictObject({ name: z.string().trim().min(1, 'must not be empty').max(100) }),
  'apiKeys.list': z.strictObject({}),
  'apiKeys.revoke': z.strictObject({ keyId: z.uuid({ message: 'must be an API key id (uuid)' }) }),
} as const;

export type RpcMethod = keyof typeof RPC_PARAMS;
export const RPC_METHODS = Object.keys(RPC_PARAMS) as RpcMethod[];
/** Methods a connection may call before it belongs to a user. */
export const PUBLIC_METHODS: ReadonlySet<RpcMethod> = new Set(['users.register', 'users.login']);
export type RpcParams<M extends RpcMethod> = z.input<(typeof RPC_PARAMS)[M]>;

export interface User {
  id: string;
  email: string;
  name: string;
  /** Gateway path of the user's avatar with its version (`/avatars/<id>?v=<version>`; without `?v=` while versions cannot be read). */
  avatarUrl: string;
}

/** persist's shapes, handed to clients as they are (see ../contracts/shapes.ts). */
export type Topic = z.infer<typeof topicShape>;
export type Subscription = z.infer<typeof subscriptionShape>;
export type Subscriber = z.infer<typeof subscriberShape>;
/** persist's notification plus the gateway path of its publisher's avatar (`/avatars/<publisherId>?v=<version>`, as a user's `avatarUrl`). */
export type Notification = z.infer<typeof notificationShape> & { publisherAvatarUrl: string };
export type TraceEvent = z.infer<typeof traceEventShape>;
export type UserPreferences = z.infer<typeof userPreferencesShape>;

/** An API key as its owner sees it (the secret is answered once, by `apiKeys.create`). */
export interface ApiKey {
  id: string;
  name: string;
  /** The secret's first characters, to recognise the key by. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface RpcResults {
  'users.register': { user: User; token: string };
  'users.login': { user: User; token: string };
  'users.logout': { ok: true };
  'users.me': User;
  'topics.create': Topic;
  'topics.list': { topics: Topic[]; nextCursor: string | null };
  'topics.get': Topic;
  'topics.subscribers': { subscribers: Subscriber[]; nextCursor: string | null };
  'topics.delete': { ok: true };
  'topics.subscribe': Subscription;
  'topics.unsubscribe': { ok: true };
  'topics.preferences': Subscription;
  'preferences.get': UserPreferences;
  'preferences.set': UserPreferences;
  'notifications.publish': { notification: Notification; recipients: string[] };
  'notifications.list': { notifications: Notification[]; nextCursor: string | null };
  'notifications.ack': { ok: true; unread: number | null };
  'notifications.readAll': { ok: true; marked: number; unread: number | null };
  'notifications.archive': { ok: true; unread: number | null };
  /**
   * `traceId`: the trace the publication was made in (null: made with tracing off); `traceUrl`: where
   * to see it (the gateway's TRACE_VIEW_URL with the id), null when none is configured or no trace.
   */
  'notifications.trace': { notificationId: string; traceId: string | null; traceUrl: string | null; events: TraceEvent[] };
  'counters.get': { unread: number };
  'apiKeys.create': { key: ApiKey; secret: string };
  'apiKeys.list': { keys: ApiKey[] };
  'apiKeys.revoke': { ok: true };
}

/** Server pushes, to every connection of the user concerned. */
export interface PushEvents {
  /** A committed notification on a topic the user follows. */
  notification: Notification;
  /** The user's unread count after any change. */
  counter: { unread: number };
  /** The connection lost its user (logout on any connection with the same token). */
  'session.ended': { reason: string };
}
export type PushEvent = keyof PushEvents;

/** socket.io acks carry one of these. */
export type AckReply<M extends RpcMethod> = { result: RpcResults[M] } | { error: RpcError };

/** JSON-RPC 2.0 error numbers the gateway uses; the contract's string code is in `error.data.code`. */
export const JSON_RPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Any application error (see `data.code`). */
  applicationError: -32000,
} as const;
