// One call, whichever transport brought it: the method must exist, the connection must have a
// user unless the method is public, the connection and its user must be under their in-flight limits, and the
// params must match the method's schema. Every failure becomes a contract error; an unexpected
// one is logged and answered as INTERNAL without its internals.
import type { FastifyBaseLogger } from 'fastify';
import { createError, currentTraceId, findUnstorableText, hasErrorCode, inSpan, REASON, SpanKind, toAppError, UNSTORABLE_TEXT_MESSAGE, type AppError } from '@notify/lib';
import { PUBLIC_METHODS, RPC_PARAMS, type RpcError, type RpcMethod } from '@notify/lib/rpc';
import type { Connection } from '../connections.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { FairShare } from './fair-share.ts';
import type { CallContext, MethodTable } from './methods.ts';

/** `details.reason` of the errors JSON-RPC gives its own numbers to (from the kit's catalogue). */
export const UNKNOWN_METHOD = REASON.UNKNOWN_METHOD;
export const INVALID_PARAMS = REASON.INVALID_PARAMS;

export class Dispatcher {
  /** Each user's share (across all their connections here), or each address's before login. */
  readonly share: FairShare;

  constructor(
    private readonly methods: MethodTable,
    private readonly options: {
      maxInflight: number;
      maxInflightPerUser: number;
      /** Average calls a second per user (Infinity: no limit), and the burst allowed after a quiet spell. */
      callsPerSecond: number;
      callBurst: number;
      /** Calls of one user that may wait their turn at once; more are refused with RATE_LIMITED. */
      maxWaitingPerUser: number;
      metrics: GatewayMetrics;
      log: FastifyBaseLogger;
    },
  ) {
    this.share = new FairShare({ maxInflight: options.maxInflightPerUser, perSecond: options.callsPerSecond, burst: options.callBurst, maxWaiting: options.maxWaitingPerUser });
  }

  /** Runs one call; resolves to the result or rejects with an AppError, never anything else. */
  call(connection: Connection, method: unknown, params: unknown): Promise<unknown> {
    const label = isMethod(method) ? method : '(unknown)';
    // Each call starts a trace: what it causes (upstream calls, the transaction, pushes, emails) belongs to it.
    return inSpan(`rpc ${label}`, { kind: SpanKind.SERVER, parent: 'root', attributes: { 'rpc.system': 'json-rpc', 'rpc.method': label, 'network.transport': connection.transport } }, async (span) => {
      try {
        return await this.callTraced(connection, method, params, label);
      } catch (error) {
        // The failed call's trace, to find its spans and log lines.
        const traceId = currentTraceId(span);
        const failure = error as AppError;
        throw traceId ? createError({ code: failure.code, message: failure.message, details: { ...failure.details, traceId }, retryable: failure.retryable }) : failure;
      }
    });
  }

  private async callTraced(connection: Connection, method: unknown, params: unknown, label: string): Promise<unknown> {
    const stop = this.options.metrics.rpcDuration.startTimer({ method: label });
    connection.inflight += 1;
    // Counted for whoever called when the call arrived (a login during the call does not move it).
    const caller = connection.session ? `user:${connection.session.user.id}` : `address:${connection.remoteAddress}`;
    let started = false;
    try {
      // The call being run counts: the limit is on calls in flight including this one.
      if (connection.inflight > this.options.maxInflight) {
        throw createError({ code: 'RATE_LIMITED', message: `at most ${this.options.maxInflight} calls may be in flight on one connection`, details: { retryAfterSeconds: 1 } });
      }
      // Checked before it may wait, so what waits is a call that will run, holding only its parsed params.
      const call = this.prepare(connection, method, params);
      // Past the caller's share the call waits its turn (and its connection is not read meanwhile).
      await this.share.acquire(caller, connection);
      started = true;
      const result = await this.run(connection, call);
      this.options.metrics.rpc.inc({ method: label, transport: connection.transport, outcome: 'ok' });
      // One line per call at debug level, as the HTTP services log each request.
      this.options.log.debug({ method: label, transport: connection.transport }, 'rpc call answered');
      return result;
    } catch (error) {
      const failure = this.describe(error, label);
      this.options.metrics.rpc.inc({ method: label, transport: connection.transport, outcome: failure.code });
      this.options.log.debug({ method: label, transport: connection.transport, code: failure.code }, 'rpc call refused');
      throw failure;
    } finally {
      connection.inflight -= 1;
      if (started) this.share.release(caller);
      stop();
    }
  }

  /** The call's method, checked caller and parsed params; throws the contract error of a call that cannot run. */
  private prepare(connection: Connection, method: unknown, params: unknown): { method: RpcMethod; params: unknown } {
    if (!isMethod(method)) {
      throw createError({
        code: 'NOT_FOUND',
        message: typeof method === 'string' ? `unknown method "${method.slice(0, 100)}"` : 'the method must be a string naming one of the API’s methods',
        details: { reason: UNKNOWN_METHOD },
      });
    }
    const session = connection.session;
    if (!session && !PUBLIC_METHODS.has(method)) {
      throw createError({ code: 'UNAUTHENTICATED', message: 'log in first (users.login or users.register), or connect with a token' });
    }
    // Text PostgreSQL cannot store (NUL, unpaired surrogates) is refused here, before any service
    // (or the coordinator's own log) would fail on it with a database error.
    const unstorable = findUnstorableText(params);
    if (unstorable !== undefined) throw invalidParams(method, [{ path: unstorable, message: UNSTORABLE_TEXT_MESSAGE }]);
    const parsed = RPC_PARAMS[method].safeParse(params ?? {});
    if (!parsed.success) throw invalidParams(method, parsed.error.issues.slice(0, 10).map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
    return { method, params: parsed.data };
  }

  private async run(connection: Connection, call: { method: RpcMethod; params: unknown }): Promise<unknown> {
    // The user may have logged out while the call waited its turn.
    const session = connection.session;
    if (!session && !PUBLIC_METHODS.has(call.method)) {
      throw createError({ code: 'UNAUTHENTICATED', message: 'log in first (users.login or users.register), or connect with a token' });
    }
    const context: CallContext = { connection, session };
    const handler = this.methods[call.method] as (params: unknown, context: CallContext) => Promise<unknown>;
    return handler(call.params, context);
  }

  private describe(error: unknown, method: string): AppError {
    if (hasErrorCode(error)) return error as AppError;
    // The gateway's own database unreachable or busy (the coordinator's log) is UNAVAILABLE, as in every service.
    const mapped = toAppError(error);
    if (mapped.code === 'INTERNAL') this.options.log.error({ err: error, method }, 'RPC handler failed unexpectedly');
    else this.options.log.warn({ err: error, method, code: mapped.code }, 'RPC handler could not reach a dependency');
    return mapped;
  }
}

/** INVALID_ARGUMENT for params that fail their method's schema, naming the first issue. */
function invalidParams(method: string, issues: { path: string; message: string }[]): AppError {
  const first = issues[0];
  return createError({
    code: 'INVALID_ARGUMENT',
    message: first ? `invalid params for ${method}: ${first.path || 'params'} ${first.message}` : `invalid params for ${method}`,
    details: { reason: INVALID_PARAMS, issues },
  });
}

/** The error as clients see it (no stack, no cause). */
export function rpcError(error: AppError): RpcError {
  return { code: error.code, message: error.message, ...(Object.keys(error.details).length ? { details: error.details } : {}) };
}

function isMethod(method: unknown): method is RpcMethod {
  return typeof method === 'string' && Object.hasOwn(RPC_PARAMS, method);
}
