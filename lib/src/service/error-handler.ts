// Turns every failure into the contract's error body: {"error":{"code","message","details","retryable"}}.
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { createError, hasErrorCode, isRetryable, ERROR_CODES, type AppError } from '../errors.ts';
import { REASON } from '../reasons.ts';
import { RequestValidationError } from './validation.ts';
import { requestTraceId } from '../tracing/http-spans.ts';

/** Prisma's codes for a database it cannot reach or that dropped it; the caller may retry. */
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver-adapter failure kinds (@prisma/adapter-pg) that mean the same. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionAlreadyClosed']);
/** Node's network errors, for upstream calls made without the kit's client. */
const UNREACHABLE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);
/**
 * PostgreSQL going away under a query: its connection exceptions (class 08) and its shutdowns
 * (57P01 administrator, 57P02 crash, 57P03 cannot connect now: starting up or in recovery).
 */
const UNREACHABLE_POSTGRES_CODES = /^(08...|57P0[123])$/;
/** node-postgres's own errors for a connection that died or never came (they carry no code). */
const UNREACHABLE_PG_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'timeout expired', // a pg.Client's connect time-out
];

/**
 * The database is busy rather than broken: no pooled connection or transaction slot in time
 * (P2024, P2028 "Unable to start a transaction in the given time"), a lock or statement time-out,
 * a serialization failure or deadlock. The caller should try again shortly: 503 with Retry-After.
 */
const BUSY_PRISMA_CODES = new Set(['P2024', 'P2028', 'P2034']);
const BUSY_KINDS = new Set(['TransactionWriteConflict', 'TooManyConnections']);
const BUSY_POSTGRES_CODES = new Set(['40001', '40P01', '55P03', '57014', '53300']);
/** PostgreSQL refusing a value (NUL in text, bad encoding, bad uuid or date, out of range): the caller's input. */
const INPUT_KINDS = new Set(['InvalidInputValue', 'LengthMismatch', 'ValueOutOfRange']);
const INPUT_POSTGRES_CODES = new Set(['22P05', '22021', '22P02', '22007', '22008', '22003', '22001', '22023']);

/** The database's own view of a failure, as Prisma's driver adapter or node-postgres reports it. */
function databaseCause(error: unknown): { kind?: string; code?: string } {
  const candidate = error as { code?: unknown; severity?: unknown; cause?: { kind?: unknown; code?: unknown }; meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } } } | null;
  if (!candidate || typeof candidate !== 'object') return {};
  const cause = candidate.meta?.driverAdapterError?.cause ?? candidate.cause;
  if (cause && typeof cause === 'object' && typeof cause.kind === 'string') return { kind: cause.kind, ...(typeof cause.code === 'string' ? { code: cause.code } : {}) };
  // node-postgres: a DatabaseError carries the SQLSTATE and a severity.
  if (typeof candidate.code === 'string' && typeof candidate.severity === 'string') return { code: candidate.code };
  return {};
}

/** True when the database is too busy to take the request now (see BUSY_*). */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && BUSY_PRISMA_CODES.has(code)) return true;
  const cause = databaseCause(error);
  return (cause.kind !== undefined && BUSY_KINDS.has(cause.kind)) || (cause.code !== undefined && BUSY_POSTGRES_CODES.has(cause.code));
}

/** True when the database refused a value of the request (see INPUT_*). */
export function isRefusedValue(error: unknown): boolean {
  const cause = databaseCause(error);
  return (cause.kind !== undefined && INPUT_KINDS.has(cause.kind)) || (cause.code !== undefined && INPUT_POSTGRES_CODES.has(cause.code));
}

/** True when `error` says a dependency could not be reached, rather than that the request was wrong. */
export function isUnreachable(error: unknown): boolean {
  const candidate = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | null;
  if (!candidate || typeof candidate !== 'object') return false;
  const code = typeof candidate.code === 'string' ? candidate.code : '';
  const kind = candidate.meta?.driverAdapterError?.cause?.kind;
  if (UNREACHABLE_PRISMA_CODES.has(code) || UNREACHABLE_NET_CODES.has(code) || (typeof kind === 'string' && UNREACHABLE_KINDS.has(kind))) return true;
  const sqlState = databaseCause(error).code;
  if (sqlState !== undefined && UNREACHABLE_POSTGRES_CODES.test(sqlState)) return true;
  const message = error instanceof Error ? error.message : '';
  return UNREACHABLE_PG_MESSAGES.some((known) => message.includes(known));
}

/**
 * Maps any thrown value to an AppError; an unreachable dependency is UNAVAILABLE, other failures
 * INTERNAL. One that carries a contract code keeps its `retryable` (its own, else its code's).
 */
export function toAppError(error: unknown): AppError {
  if (hasErrorCode(error)) {
    const known = error as AppError;
    return createError({
      code: known.code,
      message: known.message,
      details: known.details ?? {},
      statusCode: known.statusCode ?? ERROR_CODES[known.code],
      retryable: isRetryable(known),
    });
  }
  if (error instanceof RequestValidationError) {
    return createError({ code: 'INVALID_ARGUMENT', message: error.message, details: { issues: error.issues } });
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  // Client mistakes fastify catches before a handler runs: bad JSON, a body over the limit,
  // an unsupported content type. The contract answers all bad input with 400.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
    return createError({
      code,
      message: fastifyError.message ?? 'bad request',
      details: fastifyError.code ? { reason: fastifyError.code } : {},
    });
  }
  if (isRefusedValue(error)) {
    return createError({ code: 'INVALID_ARGUMENT', message: 'a value of the request cannot be stored', details: { reason: REASON.VALUE_REFUSED_BY_DATABASE }, cause: error });
  }
  if (isBusy(error)) return createError({ code: 'UNAVAILABLE', message: 'busy; try again shortly', retryable: true, details: { retryAfterSeconds: 1 }, cause: error });
  if (isUnreachable(error)) return createError({ code: 'UNAVAILABLE', message: 'a dependency is unavailable; try again', retryable: true, details: { retryAfterSeconds: 1 }, cause: error });
  return createError({ code: 'INTERNAL', message: 'internal error', cause: error });
}

/** Discards at most 64 MiB or 10 s of a refused request body (then cuts its connection off); resolves once it is done. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

function drainBounded(raw: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const cutOff = () => {
      raw.socket?.destroy();
      done();
    };
    const timer = setTimeout(cutOff, DRAIN_MAX_MS);
    timer.unref();
    raw.on('data', (chunk: Buffer) => {
      drained += chunk.byteLength;
      if (drained > DRAIN_MAX_BYTES) cutOff();
    });
    raw.once('close', done);
    raw.once('end', done);
    raw.resume();
  });
}

/**
 * A route's `config` key: a body over the route's `bodyLimit` answers 413 PAYLOAD_TOO_LARGE instead
 * of the 400 INVALID_ARGUMENT every other route gives (routes taking uploads, whose limit a client
 * should be told apart from malformed input).
 */
export const BODY_TOO_LARGE_IS_413 = 'bodyTooLargeIs413';

/** The error a route answers for a body over its limit, when it opted into 413 (BODY_TOO_LARGE_IS_413). */
function payloadTooLarge(error: unknown, routeConfig: unknown): AppError | undefined {
  if ((error as Partial<FastifyError>).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return undefined;
  if ((routeConfig as Record<string, unknown> | undefined)?.[BODY_TOO_LARGE_IS_413] !== true) return undefined;
  return createError({ code: 'PAYLOAD_TOO_LARGE', message: 'the body is larger than this route accepts' });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(async (error, request, reply) => {
    const appError = payloadTooLarge(error, request.routeOptions.config) ?? toAppError(error);
    if (appError.code === 'INTERNAL' || appError.code === 'UNAVAILABLE') request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
    const retryAfter = appError.details.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
    if ((error as Partial<FastifyError>).code === 'FST_ERR_CTP_BODY_TOO_LARGE' || !request.raw.complete) {
      // A refusal before the body was read (over the limit; a hook's check of the caller): closing
      // a socket with unread data resets it, and the client's kernel then drops our answer before
      // the client reads it ("connection reset", or a broken pipe for a client that sends all of
      // its body first). Read the rest and discard it instead, up to a bound: a body that goes on
      // past it, or for longer, is cut off. The answer goes once the body is read: a client that
      // sends its whole body before reading (and asks to close) would otherwise see the connection
      // closed under it while it still sends.
      reply.removeHeader('connection');
      await drainBounded(request.raw);
    }
    // The trace of the failed request, to find its spans and log lines.
    const traceId = requestTraceId(request);
    const body = appError.toJSON();
    return reply.code(appError.statusCode).send(traceId ? { error: { ...body.error, details: { ...body.error.details, traceId } } } : body);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = createError({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).send(error.toJSON());
  });
}
