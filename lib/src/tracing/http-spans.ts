// A server span per HTTP request a service answers: continued from the caller's `traceparent`,
// active while the route's handler runs, named after the route, carrying the status; the request's
// log lines carry its `trace_id` and `span_id`. Routes with `config: { trace: false }` have none.
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { contextFrom, logFields, SpanKind, startSpan, tracingOn, withSpan, type Span } from './tracing.ts';
import { SpanStatusCode, trace } from '@opentelemetry/api';

const SPAN = Symbol('request span');
/** Marks loggers whose bindings already name the trace (the mixin then adds nothing). */
export const TRACED_LOGGER = Symbol('traced logger');

type Traced = FastifyRequest & { [SPAN]?: Span };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: no span for this route's requests (probes, scrapes, long polls). */
    trace?: boolean;
  }
}

/** The trace id of the request's span (for error answers), if the request has one. */
export function requestTraceId(request: FastifyRequest): string | undefined {
  return logFields((request as Traced)[SPAN])?.trace_id;
}

/** A pino mixin: `trace_id`/`span_id` of the active span on lines of loggers that do not name one. */
export function traceLogMixin(_merge: object, _level: number, logger: unknown): object {
  if (!tracingOn() || (logger as { [TRACED_LOGGER]?: boolean })[TRACED_LOGGER]) return {};
  return logFields(trace.getActiveSpan()) ?? {};
}

export function traceRequests(app: FastifyInstance): void {
  // Every route's handler runs with its request's span active (routes added later too).
  app.addHook('onRoute', (route) => {
    if (route.config?.trace === false) return;
    const handler = route.handler as (this: FastifyInstance, ...args: Parameters<RouteHandlerMethod>) => unknown;
    route.handler = function traced(request, reply) {
      return withSpan((request as Traced)[SPAN], () => handler.call(this, request, reply));
    } as RouteHandlerMethod;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!tracingOn() || request.routeOptions.config.trace === false) return;
    const span = startSpan(`${request.method} ${request.routeOptions.url ?? 'unmatched route'}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': request.routeOptions.url ?? '', 'url.path': request.url.split('?')[0] },
    }, contextFrom(request.headers));
    (request as Traced)[SPAN] = span;
    const log = request.log.child(logFields(span) ?? {}) as FastifyBaseLogger & { [TRACED_LOGGER]?: boolean };
    log[TRACED_LOGGER] = true;
    // The reply logs the request's last line ("request completed"): it names the trace too.
    request.log = log;
    reply.log = log;
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = (request as Traced)[SPAN];
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}
