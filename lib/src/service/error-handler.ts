// Turns every failure into the contract's error body: {"error":{"code","message","details"}}.
import type { FastifyError, FastifyInstance } from 'fastify';
import { createError, hasErrorCode, ERROR_CODES, type AppError } from '../errors.ts';
import { RequestValidationError } from './validation.ts';

/** Prisma's codes for a database it cannot reach or that dropped it; the caller may retry. */
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver-adapter failure kinds (@prisma/adapter-pg) that mean the same. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionAlreadyClosed']);
/** Node's network errors, for upstream calls made without the kit's client. */
const UNREACHABLE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/** True when `error` says a dependency could not be reached, rather than that the request was wrong. */
export function isUnreachable(error: unknown): boolean {
  const candidate = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | null;
  if (!candidate || typeof candidate !== 'object') return false;
  const code = typeof candidate.code === 'string' ? candidate.code : '';
  const kind = candidate.meta?.driverAdapterError?.cause?.kind;
  return UNREACHABLE_PRISMA_CODES.has(code) || UNREACHABLE_NET_CODES.has(code) || (typeof kind === 'string' && UNREACHABLE_KINDS.has(kind));
}

/** Maps any thrown value to an AppError; an unreachable dependency is UNAVAILABLE, other failures INTERNAL. */
export function toAppError(error: unknown): AppError {
  if (hasErrorCode(error)) {
    const known = error as AppError;
    return createError({
      code: known.code,
      message: known.message,
      details: known.details ?? {},
      statusCode: known.statusCode ?? ERROR_CODES[known.code],
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
  if (isUnreachable(error)) return createError({ code: 'UNAVAILABLE', message: 'a dependency is unavailable; try again', cause: error });
  return createError({ code: 'INTERNAL', message: 'internal error', cause: error });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.code === 'INTERNAL' || appError.code === 'UNAVAILABLE') request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
    const retryAfter = appError.details.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
    return reply.code(appError.statusCode).send(appError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = createError({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).send(error.toJSON());
  });
}
