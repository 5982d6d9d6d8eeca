// Calls to another service's instances: round-robin over the live list, a circuit breaker
// (opossum) per instance, a deadline per call, and a retry on another instance for retryable
// failures of calls that are safe to repeat (see `request`). When every instance is open or gone
// the caller gets UNAVAILABLE at once.
// Requests go through undici pools (one per instance), never `fetch`, which refuses ports such as 6000.
import CircuitBreaker from 'opossum';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createError, fromErrorBody, hasErrorCode, isRetryable, LOAD_SHED, type AppError } from '../errors.ts';
import { isUnreachable } from '../service/error-handler.ts';
import type { Instance } from '../discovery/service-watcher.ts';
import { HttpPools, originOf, readBody } from '../http/http-pools.ts';
import { METRIC } from '../metrics/names.ts';
import { perRegistry } from '../metrics/per-registry.ts';
import type { Upstream } from './upstream.ts';
import type { ServiceIdentity } from '../identity/service-identity.ts';
import { injectTraceHeaders, inSpan, SpanKind, type Span } from '../tracing/tracing.ts';

export interface BreakerOptions {
  /** Failure share (%) over the rolling window that opens a breaker. */
  errorThresholdPercentage: number;
  /** How long (ms) a breaker stays open before one trial call (half-open). */
  resetTimeoutMs: number;
  /** Calls in the window before the failure share counts. */
  volumeThreshold: number;
  /** Length (ms) of the rolling window. */
  rollingWindowMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { errorThresholdPercentage: 50, resetTimeoutMs: 5_000, volumeThreshold: 3, rollingWindowMs: 10_000 };

export interface UpstreamRequest {
  method: string;
  path: string;
  /** The route's path template, naming the call's span (default: the path). */
  route?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The whole call, retries included, ends by then (ms from now). */
  deadlineMs: number;
  /** Safe to repeat on another instance after a failure (reads, idempotent writes). */
  idempotent: boolean;
  /** A proxy's call: a successful answer's body as bytes (a Buffer) with its headers, not parsed JSON. */
  raw?: boolean;
  /** The user this call acts for: named inside the signed service credential, never as a bare header. */
  user?: string;
}

export interface UpstreamResponse<T> {
  status: number;
  body: T;
  instance: string;
  /** The answer's headers (raw requests only). */
  headers?: AnswerHeaders;
}

export type AnswerHeaders = Record<string, string | string[] | undefined>;

/**
 * An error answer that says nothing about the instance's health: a refusal (4xx, the caller's
 * mistake), an error the instance answered for one request (500), or a busy instance shedding this
 * request (503/504 with `details.reason` LOAD_SHED). It does not trip the breaker,
 * so one client's bad input cannot make a service unavailable to everyone.
 */
class UpstreamAnswer extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`upstream answered ${status}`);
  }
}

/** Answers that mean the instance itself cannot serve now: these count against its breaker. */
const INSTANCE_FAILURE_STATUSES = new Set([502, 503, 504]);

type Attempt = (instance: Instance, request: UpstreamRequest, timeoutMs: number) => Promise<{ status: number; body: unknown; headers?: AnswerHeaders }>;

const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

export class UpstreamClient {
  private readonly breakers = new Map<string, CircuitBreaker<Parameters<Attempt>, Awaited<ReturnType<Attempt>>>>();
  private readonly pools = new HttpPools();
  private readonly metrics: { requests: Counter<'target' | 'outcome'>; duration: Histogram<'target'>; state: Gauge<'target' | 'instance'> };

  constructor(
    private readonly upstream: Upstream,
    private readonly options: {
      /** Signs every request as this service (each service's own: `service.identity`). */
      identity: ServiceIdentity;
      breaker?: Partial<BreakerOptions>;
      metrics: Registry;
      log: FastifyBaseLogger;
    },
  ) {
    this.metrics = upstreamMetrics(options.metrics);
    // Breakers of instances that left discovery go with them.
    upstream.watcher.on('change', (instances) => {
      const live = new Set(instances.map((instance) => instance.id));
      this.pools.keepOnly(new Set(instances.map(originOf)));
      for (const [id, breaker] of this.breakers) {
        if (!live.has(id)) {
          breaker.shutdown();
          this.breakers.delete(id);
          this.metrics.state.remove({ target: upstream.service, instance: id });
        }
      }
    });
  }

  /** The state of each instance's breaker, for /status. */
  states(): Record<string, 'closed' | 'half-open' | 'open'> {
    return Object.fromEntries([...this.breakers].map(([id, breaker]) => [id, breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed']));
  }

  /**
   * One call, tried on another instance while all of these hold (the retry rule):
   * - the failure is retryable (`isRetryable`): no answer at all (a connection failure, a time-out,
   *   an open breaker), or an answer whose `retryable` is true (absent: UNAVAILABLE and TIMEOUT
   *   are, a 502 without a contract body too); an answer saying `retryable: false` is final;
   * - it is not a busy instance shedding load (`details.reason` OVERLOADED): repeating it at once
   *   elsewhere adds to the overload, so the caller hears it (with its Retry-After);
   * - repeating is safe: the call is `idempotent`, or the request provably never reached the
   *   instance (connection refused, open breaker). A call that is not idempotent and may have
   *   reached the instance is never repeated, whatever the answer says;
   * - time is left before the deadline, and an instance not tried yet has its breaker closed.
   */
  request<T>(request: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const route = request.route ?? request.path.split('?')[0]!;
    return inSpan(`${this.upstream.service} ${request.method} ${route}`, { kind: SpanKind.CLIENT, attributes: { 'peer.service': this.upstream.service, 'http.request.method': request.method, 'http.route': route } }, (span) =>
      this.requestWithRetries<T>(request, span),
    );
  }

  private async requestWithRetries<T>(request: UpstreamRequest, span: Span): Promise<UpstreamResponse<T>> {
    const deadline = Date.now() + request.deadlineMs;
    const tried = new Set<string>();
    const stop = this.metrics.duration.startTimer({ target: this.upstream.service });
    try {
      for (;;) {
        const instance = this.pickClosed(tried);
        tried.add(instance.id);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw createError({ code: 'TIMEOUT', message: `${this.upstream.service} did not answer in ${request.deadlineMs} ms` });
        try {
          span.addEvent('attempt', { instance: instance.id });
          const answer = await this.breaker(instance).fire(instance, request, remaining);
          this.metrics.requests.inc({ target: this.upstream.service, outcome: 'ok' });
          span.setAttribute('server.instance', instance.id);
          return { ...answer, body: answer.body as T, instance: instance.id };
        } catch (error) {
          // An answer about this one request (a refusal, a 500, a shed: see attempt), or the instance's failure.
          const answer = error instanceof UpstreamAnswer ? error : undefined;
          const failure = answer ? fromErrorBody(answer.body, answer.status) : this.describeFailure(error, request.deadlineMs);
          // A 502/503/504 arrives as an answer only when it shed load (see attempt).
          const shed = answer !== undefined && INSTANCE_FAILURE_STATUSES.has(answer.status);
          const again = isRetryable(failure) && !shed && (request.idempotent || neverSent(error)) && Date.now() < deadline && this.hasOther(tried);
          if (!answer) this.options.log.warn({ target: this.upstream.service, instance: instance.id, code: failure.code, reason: failure.message }, 'upstream call failed');
          if (!again) {
            this.metrics.requests.inc({ target: this.upstream.service, outcome: outcomeOf(failure, answer) });
            throw failure;
          }
          this.metrics.requests.inc({ target: this.upstream.service, outcome: 'retried' });
        }
      }
    } finally {
      stop();
    }
  }

  /** The next instance whose breaker is not open, skipping `tried`; UNAVAILABLE when none is left. */
  private pickClosed(tried: ReadonlySet<string>): Instance {
    const skip = new Set(tried);
    for (const [id, breaker] of this.breakers) if (breaker.opened) skip.add(id);
    try {
      return this.upstream.pick(skip);
    } catch {
      throw createError({ code: 'UNAVAILABLE', message: `no available instance of ${this.upstream.service}`, retryable: true });
    }
  }

  private hasOther(tried: ReadonlySet<string>): boolean {
    return this.upstream.watcher.instances().some((instance) => !tried.has(instance.id) && !this.breakers.get(instance.id)?.opened);
  }

  private describeFailure(error: unknown, deadlineMs: number): AppError {
    if ((error as { code?: unknown }).code === 'EOPENBREAKER') return createError({ code: 'UNAVAILABLE', message: `${this.upstream.service} instance is open`, retryable: true });
    const name = (error as Error).name;
    const code = (error as { code?: unknown }).code;
    if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return createError({ code: 'TIMEOUT', message: `${this.upstream.service} did not answer in ${deadlineMs} ms` });
    }
    if (hasErrorCode(error)) return error as AppError;
    if (isUnreachable(error) || (typeof code === 'string' && code.startsWith('UND_ERR'))) {
      return createError({ code: 'UNAVAILABLE', message: `${this.upstream.service} unreachable`, retryable: true, cause: error });
    }
    return createError({ code: 'UNAVAILABLE', message: `${this.upstream.service} failed`, retryable: true, cause: error });
  }

  private breaker(instance: Instance) {
    let breaker = this.breakers.get(instance.id);
    if (breaker) return breaker;
    const options = { ...DEFAULT_BREAKER, ...this.options.breaker };
    breaker = new CircuitBreaker(this.attempt, {
      // The deadline is enforced by the attempt's own abort signal, so the request really stops.
      timeout: false,
      errorThresholdPercentage: options.errorThresholdPercentage,
      resetTimeout: options.resetTimeoutMs,
      volumeThreshold: options.volumeThreshold,
      rollingCountTimeout: options.rollingWindowMs,
      // Only connection failures, time-outs and 502/503/504 count: not a 4xx or a 500 for one request.
      errorFilter: (error: unknown) => error instanceof UpstreamAnswer,
      name: `${this.upstream.service}/${instance.id}`,
    });
    const labels = { target: this.upstream.service, instance: instance.id };
    this.metrics.state.set(labels, BREAKER_STATE.closed);
    breaker.on('open', () => {
      this.metrics.state.set(labels, BREAKER_STATE.open);
      this.options.log.warn(labels, 'circuit breaker opened');
    });
    breaker.on('halfOpen', () => this.metrics.state.set(labels, BREAKER_STATE.halfOpen));
    breaker.on('close', () => {
      this.metrics.state.set(labels, BREAKER_STATE.closed);
      this.options.log.info(labels, 'circuit breaker closed');
    });
    this.breakers.set(instance.id, breaker);
    return breaker;
  }

  /** One HTTP attempt against one instance; network failures and 502/503/504 reject as the instance's failure. */
  private readonly attempt: Attempt = async (instance, request, timeoutMs) => {
    const answer = await this.pools.request(originOf(instance), {
      method: request.method,
      path: request.path,
      headers: injectTraceHeaders({
        ...(request.body === undefined ? {} : { 'content-type': request.body instanceof Uint8Array ? 'application/octet-stream' : 'application/json' }),
        ...request.headers,
        ...this.options.identity.headers(this.upstream.service, request.user),
      }),
      // Bytes (an uploaded image) go as they are; anything else as JSON.
      ...(request.body === undefined ? {} : { body: request.body instanceof Uint8Array ? request.body : JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const status = answer.statusCode;
    if (request.raw && status < 400) return { status, body: Buffer.from(await answer.body.arrayBuffer()), headers: answer.headers };
    const body = await readBody(answer);
    // A busy instance shedding load answered for this one request: it is not failing.
    if (INSTANCE_FAILURE_STATUSES.has(status) && !isLoadShed(body)) throw fromErrorBody(body, status);
    if (status >= 400) throw new UpstreamAnswer(status, body);
    return { status, body };
  };

  /** Stops the breakers and closes the connections (requests in flight finish first). */
  async close(): Promise<void> {
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
    await this.pools.close();
  }
}

/** The metrics outcome of a call that ends in `failure` (`answer` when the instance answered it). */
function outcomeOf(failure: AppError, answer: UpstreamAnswer | undefined): string {
  if (answer) return answer.status < 500 ? 'refused' : INSTANCE_FAILURE_STATUSES.has(answer.status) ? 'shed' : 'failed';
  return failure.code === 'TIMEOUT' ? 'timeout' : 'failed';
}

/** An error body whose `details.reason` says the instance shed the request (LOAD_SHED). */
function isLoadShed(body: unknown): boolean {
  return (body as { error?: { details?: { reason?: unknown } } } | null)?.error?.details?.reason === LOAD_SHED;
}

/** Failures that prove the request never reached the instance: repeating it elsewhere cannot do it twice. */
const NEVER_SENT_CODES = new Set(['EOPENBREAKER', 'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function neverSent(error: unknown): boolean {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 4; current = current.cause as typeof current, depth += 1) {
    if (typeof current.code === 'string' && NEVER_SENT_CODES.has(current.code)) return true;
  }
  return false;
}

/** One set of upstream metrics per registry, shared by every client of the service. */
const upstreamMetrics = perRegistry((registry: Registry) => createUpstreamMetrics(registry));

function createUpstreamMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: METRIC.upstreamRequestsTotal,
      help: 'Calls to other services by target and outcome (ok, refused, shed, retried, failed, timeout)',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: METRIC.upstreamRequestDuration,
      help: 'Seconds a call to another service took, retries included',
      labelNames: ['target'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    state: new Gauge({
      name: METRIC.circuitBreakerState,
      help: 'Circuit breaker of each upstream instance: 0 closed, 1 half-open, 2 open',
      labelNames: ['target', 'instance'] as const,
      registers: [registry],
    }),
  };
}
