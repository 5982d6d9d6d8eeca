// auth's API as other services call it: register, log in, resolve and end a session (the token in
// `Authorization: Bearer`, the client's address in X-Forwarded-For from a trusted gateway), read a
// user, and a user's API keys (created, listed and revoked with a session; verified by the gateway).
import { z } from 'zod';
import { defineContract, defineRoute } from './contract.ts';

/** Trimmed and lower-cased before it is checked, as it is stored. */
const email = z.string().trim().toLowerCase().max(254).pipe(z.email({ message: 'must be an email address' }));
/** 8 to 1024 characters: long enough to resist guessing, short enough to hash cheaply. */
const password = z.string().min(8, 'must be at least 8 characters').max(1024);
const name = z.string().trim().min(1, 'must not be empty').max(100);

export const registerBody = z.strictObject({ email, password, name });
export const loginBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
export const profileBody = z.strictObject({ name });
export const userIdParams = z.object({ id: z.uuid({ message: 'must be a user id (uuid)' }) });

/** The public view of a user: never the password hash. */
export const publicUserShape = z.object({ id: z.string(), email: z.string(), name: z.string(), createdAt: z.string() });
/** A new session: the token is shown once, here. */
export const sessionGrantShape = z.object({ user: publicUserShape, token: z.string(), expiresAt: z.string() });

/**
 * An API key's secret: `nk_`, the key's id (a uuid without dashes) and 32 random bytes (256 bits)
 * in base64url. The gateway tells a key from a session token by this shape.
 */
export const API_KEY_PATTERN = /^nk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/** An API key as its owner sees it: never the secret, which is shown once, at creation. */
export const apiKeyShape = z.object({
  id: z.string(),
  name: z.string(),
  /** The secret's first characters, to recognise the key by. */
  prefix: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const createApiKeyBody = z.strictObject({ name: z.string().trim().min(1, 'must not be empty').max(100) });
export const apiKeyIdParams = z.object({ id: z.uuid({ message: 'must be an API key id (uuid)' }) });

export const authContract = defineContract('auth', {
  /** Never retried: the account may have been created. */
  register: defineRoute({ method: 'POST', path: '/api/users', body: registerBody, response: sessionGrantShape, idempotent: false }),
  getUser: defineRoute({ method: 'GET', path: '/api/users/:id', params: userIdParams, response: publicUserShape, idempotent: true }),
  rename: defineRoute({ method: 'PATCH', path: '/api/users/me', body: profileBody, response: publicUserShape, idempotent: true }),
  /** Never retried: a session may have been opened. */
  login: defineRoute({ method: 'POST', path: '/api/sessions', body: loginBody, response: sessionGrantShape, idempotent: false }),
  currentSession: defineRoute({ method: 'GET', path: '/api/sessions/current', response: z.object({ user: publicUserShape, expiresAt: z.string() }), idempotent: true }),
  endSession: defineRoute({ method: 'DELETE', path: '/api/sessions/current', response: z.object({ ok: z.literal(true) }), idempotent: true }),
  /** With the owner's session token. Never retried: a key may have been made (its secret shown to no one). */
  createApiKey: defineRoute({ method: 'POST', path: '/api/api-keys', body: createApiKeyBody, response: z.object({ key: apiKeyShape, secret: z.string() }), idempotent: false }),
  /** With the owner's session token: the owner's keys, revoked ones included, newest first. */
  listApiKeys: defineRoute({ method: 'GET', path: '/api/api-keys', response: z.object({ keys: z.array(apiKeyShape) }), idempotent: true }),
  /** With the owner's session token; revoking a revoked key answers ok again. */
  revokeApiKey: defineRoute({ method: 'DELETE', path: '/api/api-keys/:id', params: apiKeyIdParams, response: z.object({ ok: z.literal(true) }), idempotent: true }),
  /** With the API key as the bearer token: its owner, as resolving a session answers. */
  verifyApiKey: defineRoute({ method: 'GET', path: '/api/api-keys/current', response: z.object({ user: publicUserShape, key: apiKeyShape }), idempotent: true }),
});
