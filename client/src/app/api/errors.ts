// Gateway errors as a person reads them: the error classes of socket.io calls and of the gateway's
// HTTP operations (the profile picture), and the contract code (and reason) → words mapping.
import type { RpcError, RpcErrorCode, RpcMethod } from '@notify/lib/rpc';

/** A failed call: the contract error and the method that failed. */
export class RpcCallError extends Error {
  readonly code: RpcErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    readonly rpc: RpcError,
    readonly method: RpcMethod,
  ) {
    super(`${method}: ${rpc.code}: ${rpc.message}`);
    this.name = 'RpcCallError';
    this.code = rpc.code;
    this.details = rpc.details ?? {};
  }
}

/** The gateway's HTTP operations the app calls besides the socket.io methods. */
export type HttpOperation = 'picture.upload' | 'picture.remove';

/** A failed HTTP operation: the gateway's error body (or one made here for a network failure), and its status (0: no answer). */
export class HttpCallError extends Error {
  readonly code: RpcErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    readonly body: RpcError,
    readonly operation: HttpOperation,
    readonly status: number,
  ) {
    super(`${operation}: ${body.code}: ${body.message}`);
    this.name = 'HttpCallError';
    this.code = body.code;
    this.details = body.details ?? {};
  }
}

/** One sentence per contract code: a code added to the contract breaks the build until it is worded here. */
const GENERIC: Record<RpcErrorCode, string> = {
  INVALID_ARGUMENT: 'Some of what you entered isn’t valid.',
  UNAUTHENTICATED: 'Your session has ended. Please log in again.',
  FORBIDDEN: 'You’re not allowed to do that.',
  NOT_FOUND: 'That no longer exists.',
  CONFLICT: 'That clashes with something that already exists.',
  PAYLOAD_TOO_LARGE: 'That file is too large.',
  RATE_LIMITED: 'You’re going a little fast. Wait a moment and try again.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
  UNAVAILABLE: 'The service is temporarily unavailable. Please try again in a moment.',
  TIMEOUT: 'The server took too long to answer. Please try again.',
};

/** The same words wherever a method finds the topic, or the notification, gone. */
const TOPIC_GONE = 'That topic doesn’t exist any more (it may have been deleted).';
const NOTIFICATION_GONE = 'That notification couldn’t be found.';

/** Wording for a code on one method, where the method says more than the code alone. */
const BY_METHOD: Partial<Record<RpcMethod, Partial<Record<RpcErrorCode, string>>>> = {
  'users.login': { UNAUTHENTICATED: 'That email and password don’t match an account.' },
  'users.register': { CONFLICT: 'An account with this email already exists. Log in instead?' },
  'topics.create': { CONFLICT: 'A topic with this name already exists. Pick another name.' },
  'topics.delete': {
    FORBIDDEN: 'Only the topic’s creator can delete it.',
    NOT_FOUND: TOPIC_GONE,
  },
  'topics.subscribe': { NOT_FOUND: TOPIC_GONE },
  'topics.unsubscribe': { NOT_FOUND: 'You aren’t subscribed to that topic.' },
  'notifications.publish': {
    FORBIDDEN: 'Only the topic’s creator can publish to it.',
    NOT_FOUND: TOPIC_GONE,
  },
  'notifications.ack': { NOT_FOUND: NOTIFICATION_GONE, CONFLICT: 'That notification was already marked as read.' },
  'notifications.trace': {
    NOT_FOUND: NOTIFICATION_GONE,
    FORBIDDEN: 'Only the publisher and the recipients can see this trace.',
  },
  'notifications.archive': { NOT_FOUND: NOTIFICATION_GONE },
  'topics.get': { NOT_FOUND: TOPIC_GONE },
  'topics.subscribers': {
    FORBIDDEN: 'Only the topic’s creator can see who follows it.',
    NOT_FOUND: TOPIC_GONE,
  },
  'topics.preferences': { NOT_FOUND: 'You aren’t subscribed to that topic any more.' },
  'apiKeys.create': { CONFLICT: 'You already have a key with this name. Pick another name.' },
  'apiKeys.revoke': { NOT_FOUND: 'That key doesn’t exist any more.' },
};

/** Wording for a code on one HTTP operation. */
const BY_OPERATION: Record<HttpOperation, Partial<Record<RpcErrorCode, string>>> = {
  'picture.upload': {
    PAYLOAD_TOO_LARGE: 'That picture is larger than 5 MB. Pick a smaller one.',
    INVALID_ARGUMENT: 'That picture couldn’t be used. Try a PNG, JPEG, WebP, AVIF or GIF image.',
    UNAVAILABLE: 'Pictures can’t be saved right now. Please try again in a moment.',
  },
  'picture.remove': { UNAVAILABLE: 'Your picture can’t be removed right now. Please try again in a moment.' },
};

const megapixels = (pixels: unknown) => (typeof pixels === 'number' ? `${Math.round(pixels / 100_000) / 10} megapixels` : null);

/** Wording for a `details.reason` (the finer cause under a code), wherever it comes from. */
const BY_REASON: Record<string, (details: Record<string, unknown>) => string> = {
  avatar_upload_rate: (details) => {
    const seconds = typeof details.retryAfterSeconds === 'number' ? Math.max(1, Math.ceil(details.retryAfterSeconds)) : null;
    return `You’ve changed your picture many times in a short while. ${seconds ? `Please wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.` : 'Please wait a little and try again.'}`;
  },
  unsupported_image: () => 'That file isn’t a picture we can read. Use a PNG, JPEG, WebP, AVIF or GIF image.',
  image_too_many_pixels: (details) => {
    const has = megapixels(details.pixels);
    const limit = megapixels(details.limit);
    return `That picture has too many pixels${has && limit ? ` (${has}; at most ${limit})` : ''}. Use a smaller image.`;
  },
};

/** Field names of the params, as a form labels them. */
const FIELDS: Record<string, string> = {
  email: 'Email',
  password: 'Password',
  name: 'Name',
  description: 'Description',
  title: 'Title',
  body: 'Message',
  topicId: 'Topic',
  notificationId: 'Notification',
  to: 'Recipients',
  limit: 'Page size',
  cursor: 'Page',
  url: 'Action link',
  keyId: 'Key',
  muted: 'Mute',
  archived: 'Archived',
  digest: 'Digest',
  'digest.threshold': 'Digest: number of emails',
  'digest.windowMinutes': 'Digest: minutes',
};

interface Issue {
  path: string;
  message: string;
}

function issuesOf(details: Record<string, unknown>): Issue[] {
  const issues = details.issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter((issue): issue is Issue => typeof issue === 'object' && issue !== null && typeof (issue as Issue).message === 'string');
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function retryWords(details: Record<string, unknown>): string | null {
  if (typeof details.retryAfterSeconds !== 'number') return null;
  const seconds = Math.max(1, Math.ceil(details.retryAfterSeconds));
  return `Too many attempts. Please wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`;
}

function friendlyHttpError({ code, details, operation }: HttpCallError): string {
  const reason = typeof details.reason === 'string' ? BY_REASON[details.reason] : undefined;
  if (reason) return reason(details);
  if (code === 'RATE_LIMITED') return retryWords(details) ?? GENERIC.RATE_LIMITED;
  if (details.offline === true) return 'You’re offline. Try again as soon as your connection is back.';
  if (details.network === true) return 'The server couldn’t be reached, so nothing changed. Check your connection and try again.';
  return BY_OPERATION[operation][code] ?? GENERIC[code];
}

/** What to tell the person about `error` (any thrown value). */
export function friendlyError(error: unknown): string {
  if (error instanceof HttpCallError) return friendlyHttpError(error);
  if (!(error instanceof RpcCallError)) {
    return error instanceof Error ? `Something unexpected happened: ${error.message}` : 'Something unexpected happened.';
  }
  const { code, details, method } = error;
  if (code === 'INVALID_ARGUMENT') {
    const issues = issuesOf(details);
    if (issues.length) {
      return `Please check: ${issues.map((issue) => sentence(`${FIELDS[issue.path] ?? (issue.path || 'Input')} ${issue.message}`)).join(' ')}`;
    }
    // Not a schema failure (e.g. publishing to users who do not follow): the gateway's own words.
    return `${GENERIC.INVALID_ARGUMENT} (${error.rpc.message})`;
  }
  const retry = code === 'RATE_LIMITED' ? retryWords(details) : null;
  if (retry) return retry;
  if (details.offline === true) return 'You’re offline. This works again as soon as your connection is back.';
  if (details.connectionLost === true) return 'The connection dropped before the server answered, so this may or may not have happened. Check, then try again if needed.';
  if (details.notConnected === true) return 'Not connected to the server right now; reconnecting by itself. Try again in a moment.';
  if (details.aborted === true && method === 'notifications.publish') {
    return 'The notification could not be delivered safely, so nothing was sent. Please try again.';
  }
  return BY_METHOD[method]?.[code] ?? GENERIC[code];
}

/** True when the error means this client's session is gone. */
export function isSessionLost(error: unknown): boolean {
  if (error instanceof HttpCallError) return error.code === 'UNAUTHENTICATED';
  return error instanceof RpcCallError && error.code === 'UNAUTHENTICATED' && error.method !== 'users.login';
}

/** True when the call failed only because this client was not (or stopped being) connected. */
export function isConnectionTrouble(error: unknown): boolean {
  return error instanceof RpcCallError && (error.details.offline === true || error.details.notConnected === true || error.details.connectionLost === true);
}
