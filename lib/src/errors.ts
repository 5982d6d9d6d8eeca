// The error model of the contract: stable string codes, their HTTP statuses, one factory, and the
// one retry rule (what `retryable` means, and which refusals are final).
import { REASON } from './reasons.ts';

/** Every error code a service may answer with, each mapped to its HTTP status. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The shape errors take on the wire between services (clients get `RpcError`, without `retryable`). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  /**
   * Whether the same call may succeed if repeated (see `isRetryable`). Every answer of the kit's
   * error handler carries it; a body without it (another server's) falls back to the code's default.
   */
  retryable?: boolean;
}

export interface AppErrorOptions {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Defaults to the code's status. */
  statusCode?: number;
  /**
   * True when the same call may succeed if repeated (on this or another instance); defaults to the
   * code's (true for UNAVAILABLE and TIMEOUT only). It says nothing about whether the first call
   * took effect: whether repeating is safe is the caller's to know (see `isRetryable`).
   */
  retryable?: boolean;
  cause?: unknown;
}

/** An error that knows its contract code; recognise it by `code`, not `instanceof`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(options: AppErrorOptions) {
    super(options.message, { cause: options.cause });
    this.name = 'AppError';
    this.code = options.code;
    this.statusCode = options.statusCode ?? ERROR_CODES[options.code];
    this.retryable = options.retryable ?? retryableByDefault(options.code);
    this.details = options.details ?? {};
  }

  toJSON(): { error: ErrorBody } {
    return { error: { code: this.code, message: this.message, details: this.details, retryable: this.retryable } };
  }
}

/** A code's `retryable` when nobody said otherwise: a service down or too slow may answer the next time. */
function retryableByDefault(code: ErrorCode): boolean {
  return code === 'UNAVAILABLE' || code === 'TIMEOUT';
}

/**
 * `details.reason` of an answer that sheds load (a full queue, a wait for capacity that ran out):
 * the instance is healthy and busy, so callers must not count it against its circuit breaker
 * (the catalogue's `REASON.OVERLOADED`).
 */
export const LOAD_SHED = REASON.OVERLOADED;

/** The one factory for contract errors. */
export function createError(options: AppErrorOptions): AppError {
  return new AppError(options);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** True for anything carrying a contract code, whichever process or library made it. */
export function hasErrorCode(error: unknown): error is { code: ErrorCode; message: string } {
  return typeof error === 'object' && error !== null && isErrorCode((error as { code?: unknown }).code);
}

/**
 * Turns a wire error body (`{error:{code,message,details,retryable}}`) back into an AppError,
 * keeping its `retryable` (absent: the code's default). A body that is not the contract's gets the
 * status's code, retryable for 502/503/504: the server, not the request, failed.
 */
export function fromErrorBody(body: unknown, fallbackStatus = 500): AppError {
  const inner = (body as { error?: Partial<ErrorBody> } | null)?.error;
  if (inner && isErrorCode(inner.code)) {
    return createError({
      code: inner.code,
      message: String(inner.message ?? inner.code),
      details: inner.details ?? {},
      ...(typeof inner.retryable === 'boolean' ? { retryable: inner.retryable } : {}),
    });
  }
  const code = statusToCode(fallbackStatus);
  return createError({ code, message: `upstream answered ${fallbackStatus}`, retryable: fallbackStatus === 502 || fallbackStatus === 503 || fallbackStatus === 504 });
}

/**
 * The retry rule, one half: may the same call succeed if repeated? An error's own `retryable`
 * (an AppError's, or a wire body's as `fromErrorBody` read it); for anything else carrying a
 * contract code, the code's default (UNAVAILABLE, TIMEOUT). An error without a contract code is
 * not known to be retryable. The other half is the caller's: repeating must be safe, so a call that
 * is not idempotent is repeated only when it provably never reached the service (the whole rule:
 * `UpstreamClient.request`, docs/services-api.md).
 */
export function isRetryable(error: unknown): boolean {
  if (!hasErrorCode(error)) return false;
  const own = (error as { retryable?: unknown }).retryable;
  return typeof own === 'boolean' ? own : retryableByDefault(error.code);
}

/** Refusals whose answer no repetition of the same request changes (RATE_LIMITED passes with time). */
const FINAL_REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE']);

/**
 * True for a refusal that repeating the same request cannot change: INVALID_ARGUMENT,
 * UNAUTHENTICATED, FORBIDDEN, NOT_FOUND or CONFLICT, unless the answer itself says it is
 * retryable. Callers that keep trying (a follow-up, a phase-2 decision) stop on these; failures
 * (INTERNAL, UNAVAILABLE, TIMEOUT) and RATE_LIMITED are worth another try later.
 */
export function isFinalRefusal(error: unknown): error is { code: ErrorCode; message: string } {
  return hasErrorCode(error) && FINAL_REFUSAL_CODES.has(error.code) && !isRetryable(error);
}

/** The contract code that best matches an HTTP status. */
export function statusToCode(status: number): ErrorCode {
  const match = (Object.entries(ERROR_CODES) as [ErrorCode, number][]).find(([, s]) => s === status);
  if (match) return match[0];
  if (status >= 500) return 'INTERNAL';
  return 'INVALID_ARGUMENT';
}
