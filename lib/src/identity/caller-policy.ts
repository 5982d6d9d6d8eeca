// Who may call each route. A route names its callers in its config (`config: { callers: [...] }`):
// service names (each call must carry a verified credential from one of them), 'public' (anyone:
// /health, the gateway's own client API), or 'operator' (/metrics, /status, /dashboard: the bearer
// OPERATOR_TOKEN, or, while none is configured, only a peer on this machine). A route that names
// none accepts nobody: forgetting to declare a route's callers closes it instead of opening it.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createError } from '../errors.ts';
import { REASON } from '../reasons.ts';
import { SERVICE_TOKEN_HEADER, type Caller, type ServiceIdentity } from './service-identity.ts';

export type Callers = readonly string[] | 'public' | 'operator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (see caller-policy.ts); none named: nobody. */
    callers?: Callers;
  }
  interface FastifyRequest {
    /** The verified caller of a route that names service callers. */
    caller?: Caller;
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function installCallerPolicy(app: FastifyInstance, options: { identity: ServiceIdentity; operatorToken?: string; defaultCallers?: Callers }): void {
  const operatorToken = options.operatorToken === undefined ? undefined : Buffer.from(`Bearer ${options.operatorToken}`);
  app.decorateRequest('caller', undefined);
  // onRequest: before the body is read, so a refused caller costs nothing and writes nothing.
  // A callback hook: it runs on every request, and a callback costs no promise and no microtask.
  app.addHook('onRequest', (request, _reply, done) => {
    let refused: unknown;
    try {
      check(request);
    } catch (error) {
      refused = error;
    }
    done(refused as Error | undefined);
  });

  function check(request: FastifyRequest): void {
    // No route matched: the 404 says so, whoever asks.
    if (request.routeOptions.url === undefined) return;
    const callers = request.routeOptions.config.callers ?? options.defaultCallers ?? [];
    if (callers === 'public') return;
    if (callers === 'operator') return checkOperator(request, operatorToken);
    const caller = options.identity.verify(request.headers[SERVICE_TOKEN_HEADER]);
    if (!callers.includes(caller.service)) {
      throw createError({
        code: 'FORBIDDEN',
        message: callers.length ? `${caller.service} may not call ${request.routeOptions.url}; it accepts ${callers.join(', ')}` : `${request.routeOptions.url} accepts no callers`,
        details: { reason: REASON.CALLER_NOT_ALLOWED, caller: caller.service },
      });
    }
    request.caller = caller;
  }
}

function checkOperator(request: FastifyRequest, expected: Buffer | undefined): void {
  if (expected === undefined) {
    if (LOOPBACK.test(request.socket.remoteAddress ?? '')) return;
    throw createError({ code: 'FORBIDDEN', message: `${request.routeOptions.url} answers only this machine while no OPERATOR_TOKEN is configured`, details: { reason: REASON.OPERATOR_ONLY } });
  }
  const given = Buffer.from(request.headers.authorization ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw createError({ code: 'UNAUTHENTICATED', message: `${request.routeOptions.url} needs the operator token (Authorization: Bearer …)`, details: { reason: REASON.OPERATOR_TOKEN } });
  }
}

/** The user a verified service call acts for; UNAUTHENTICATED when the credential names none. */
export function actingUser(request: FastifyRequest): string {
  const user = request.caller?.user;
  if (user === undefined) throw createError({ code: 'UNAUTHENTICATED', message: 'this call must act for a user (the credential names none)', details: { reason: REASON.NO_USER } });
  return user;
}
