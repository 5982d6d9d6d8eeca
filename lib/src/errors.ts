// The error model of the contract: stable string codes, their HTTP statuses, and one factory.

/** Every error code a service may answer with, each mapped to its HTTP status. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The shape errors take on the wire, between services and towards clients. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export interface AppErrorOptions {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Defaults to the code's status. */
  statusCode?: number;
  /** True when the same call may succeed if repeated (on this or another instance). */
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
    this.retryable = options.retryable ?? (options.code === 'UNAVAILABLE' || options.code === 'TIMEOUT');
    this.details = options.details ?? {};
  }

  toJSON(): { error: ErrorBody } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/**
 * `details.reason` of an answer that sheds load (a full queue, a wait for capacity that ran out):
 * the instance is healthy and busy, so callers must not count it against its circuit breaker.
 */
export const LOAD_SHED = 'OVERLOADED';

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

/** Turns a wire error body (`{error:{code,message,details}}`) back into an AppError. */
export function fromErrorBody(body: unknown, fallbackStatus = 500): AppError {
  const inner = (body as { error?: Partial<ErrorBody> } | null)?.error;
  if (inner && isErrorCode(inner.code)) {
    return createError({ code: inner.code, message: String(inner.message ?? inner.code), details: inner.details ?? {} });
  }
  const code = statusToCode(fallbackStatus);
  return createError({ code, message: `upstream answered ${fallbackStatus}` });
}

/** The contract code that best matches an HTTP status. */
export function statusToCode(status: number): ErrorCode {
  const match = (Object.entries(ERROR_CODES) as [ErrorCode, number][]).find(([, s]) => s === status);
  if (match) return match[0];
  if (status >= 500) return 'INTERNAL';
  return 'INVALID_ARGUMENT';
}
