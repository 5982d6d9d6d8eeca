// Turns every failure into the contract's error body: {"error":{"code","message","details"}}.
import type { FastifyError, FastifyInstance } from 'fastify';
import { createError, hasErrorCode, ERROR_CODES, type AppError } from '../errors.ts';
import { RequestValidationError } from './validation.ts';

/** Maps any thrown value to an AppError; unknown failures become INTERNAL. */
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
  return createError({ code: 'INTERNAL', message: 'internal error', cause: error });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
    return reply.code(appError.statusCode).send(appError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = createError({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).send(error.toJSON());
  });
}
