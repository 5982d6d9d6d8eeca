// Every `details.reason` an error answer may carry: the finer cause under its contract code, one
// stable string each, documented in docs/services-api.md or docs/client-api.md (a test checks
// both ways). Besides these, a request fastify refuses before any handler runs (bad JSON, a body
// over the limit, an unsupported content type) carries fastify's own code (`FST_ERR_…`).
// Browser-safe: no imports.

/** The catalogue: constant name → the string on the wire. */
export const REASON = {
  /** 503/504: a busy instance shed this request (a full queue, a wait for capacity that ran out); it is not failing. */
  OVERLOADED: 'OVERLOADED',
  /** 400: text PostgreSQL cannot store (a NUL, an unpaired UTF-16 surrogate); `details.field` says where. */
  UNSTORABLE_TEXT: 'unstorable_text',
  /** 400: the database refused a value of the request (bad encoding, out of range, …). */
  VALUE_REFUSED_BY_DATABASE: 'value_refused_by_database',
  /** 400: a pagination cursor this service did not issue. */
  BAD_CURSOR: 'bad_cursor',
  /** 401: no service credential (`X-Service-Token`). */
  CREDENTIAL_MISSING: 'missing',
  /** 401: a service credential that does not parse. */
  CREDENTIAL_MALFORMED: 'malformed',
  /** 401: a service credential not signed with this deployment's secret. */
  BAD_SIGNATURE: 'bad_signature',
  /** 401: a service credential addressed to another service. */
  WRONG_AUDIENCE: 'wrong_audience',
  /** 401: a service credential past its life (or issued in the future). */
  CREDENTIAL_EXPIRED: 'expired',
  /** 401: a call that must act for a user, whose credential names none. */
  NO_USER: 'no_user',
  /** 401: the credential's user is not a user id. */
  BAD_USER: 'bad_user',
  /** 401: an operator route without the operator token (`Authorization: Bearer …`). */
  OPERATOR_TOKEN: 'operator_token',
  /** 403: an operator route called from another machine while no operator token is configured. */
  OPERATOR_ONLY: 'operator_only',
  /** 403: a valid credential from a service the route does not accept; `details.caller` names it. */
  CALLER_NOT_ALLOWED: 'caller_not_allowed',
  /** 409: a publication's subscriber list differs from the topic's current subscriptions. */
  SUBSCRIBERS_CHANGED: 'SUBSCRIBERS_CHANGED',
  /** 409: a notification with this id is already stored: an earlier attempt of a publish repeated with its idempotency key (the gateway then answers that one). */
  PUBLICATION_EXISTS: 'PUBLICATION_EXISTS',
  /** 409: an idempotency key used again with a different request (other topic, title, body, …). */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** 400: an uploaded picture whose bytes are not a PNG, JPEG, WebP, AVIF or GIF image that decodes (whatever its name or content type says). */
  UNSUPPORTED_IMAGE: 'unsupported_image',
  /** 400: an uploaded picture with more pixels than the avatar service decodes (`details.pixels`, `details.limit`): refused from its header, before decoding. */
  IMAGE_TOO_MANY_PIXELS: 'image_too_many_pixels',
  /** 504: an earlier publish with this idempotency key is still being decided; send it again later. */
  PUBLICATION_IN_DOUBT: 'PUBLICATION_IN_DOUBT',
  /** 400 or 403: an unsubscribe link whose token is malformed (400) or not signed by this deployment (403). */
  UNSUBSCRIBE_TOKEN: 'unsubscribe_token',
  /** 404 (JSON-RPC -32601): no such RPC method. */
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** 400 (JSON-RPC -32602): params that fail the method's schema; `details.issues` lists them. */
  INVALID_PARAMS: 'INVALID_PARAMS',
  /** 429: the address already holds its most connections. */
  CONNECTIONS_PER_ADDRESS: 'connections_per_address',
  /** 429: the user already holds their most connections. */
  CONNECTIONS_PER_USER: 'connections_per_user',
  /** 409: the user already holds their most API keys (not revoked). */
  API_KEYS_PER_USER: 'api_keys_per_user',
  /** 429: an API key past its rate on the gateway's REST API; `Retry-After` says when to come back. */
  API_KEY_RATE: 'api_key_rate',
  /** 429: a user past their rate of picture uploads and removals on the gateway; `Retry-After` says when to come back. */
  AVATAR_UPLOAD_RATE: 'avatar_upload_rate',
} as const;

export type Reason = (typeof REASON)[keyof typeof REASON];
