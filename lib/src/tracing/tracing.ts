// Distributed tracing: OpenTelemetry spans with W3C trace context (`traceparent`), exported over
// OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Unset, nothing is installed: the API's no-op
// tracer answers, no context is kept, no header is written and no id is made (off and free).
import { context, INVALID_SPAN_CONTEXT, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export { SpanKind, type Span };

export interface TracingOptions {
  /** OTLP/HTTP base URL (e.g. http://jaeger:4318); spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  serviceName: string;
  instanceId: string;
  version: string;
  /** Longest a finished span waits before it is sent (ms). */
  exportDelayMs: number;
}

let installed: { provider: TracerProvider; serviceName: string } | undefined;

/**
 * Installs tracing for this process (one service per process). A second call for another service
 * keeps the first (tests may build several services in one process; only one exports).
 */
export function startTracing(options: TracingOptions): void {
  if (installed) return;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.instance.id': options.instanceId, 'service.version': options.version }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }), scheduledDelayMillis: options.exportDelayMs })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  installed = { provider, serviceName: options.serviceName };
}

/**
 * Sends what is still buffered and uninstalls (the service's last close step). A receiver that does
 * not answer within `limitMs` loses those spans: a stop never waits on it for longer.
 */
export async function stopTracing(serviceName: string, limitMs = 2_000): Promise<void> {
  if (installed?.serviceName !== serviceName) return;
  const { provider } = installed;
  installed = undefined;
  const sent = await Promise.race([provider.shutdown().then(() => true), sleep(limitMs, false, { ref: false })]);
  trace.disable();
  propagation.disable();
  context.disable();
  if (!sent) throw new Error(`the OTLP receiver did not take the last spans within ${limitMs} ms`);
}

/** True while spans are recorded and exported. */
export function tracingOn(): boolean {
  return installed !== undefined;
}

const tracer = () => trace.getTracer('notify');
/** What `inSpan` hands its work while tracing is off: records nothing. */
const NOT_RECORDED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Starts a span (child of `parent`, default: the active context); the caller ends it. */
export function startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes; links?: Link[] } = {}, parent: Context = context.active()): Span {
  return tracer().startSpan(name, options, parent);
}

/**
 * Runs `work` inside a new span made active, ending it when `work` settles; a throw or rejection is
 * recorded on the span (status error) and passed on unchanged.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; links?: Link[]; /** Default: the active context; 'root' starts a trace. */ parent?: Context | 'root' },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  if (!installed) return work(NOT_RECORDED);
  const parent = options.parent === 'root' ? ROOT_CONTEXT : (options.parent ?? context.active());
  const span = startSpan(name, options, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Runs `work` with `span` as the active span (its children and logs belong to it). */
export function withSpan<T>(span: Span | undefined, work: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), work) : work();
}

/** A context whose active span is `span` (the active context when there is none): for children of it. */
export function under(span: Span | undefined): Context {
  return span ? trace.setSpan(context.active(), span) : context.active();
}

/** Runs `work` in `parent` (a span's context, see `under`). */
export function inContext<T>(parent: Context, work: () => T): T {
  return installed ? context.with(parent, work) : work();
}

/** Marks a span failed with the error (its code, when it is one of ours). */
export function failSpan(span: Span, error: unknown): void {
  const code = (error as { code?: unknown }).code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : (error as Error).message });
  if (error instanceof Error) span.recordException(error);
}

/** Adds `traceparent` for the active span to outgoing headers (nothing while tracing is off). */
export function injectTraceHeaders(headers: Record<string, string>): Record<string, string> {
  if (installed) propagation.inject(context.active(), headers);
  return headers;
}

/** The context a carrier (incoming headers, a message's `traceparent`) names; the root one if none. */
export function contextFrom(carrier: Record<string, unknown> | string | null | undefined): Context {
  if (!installed || !carrier) return ROOT_CONTEXT;
  const headers = typeof carrier === 'string' ? { traceparent: carrier } : carrier;
  return propagation.extract(ROOT_CONTEXT, headers, {
    keys: (value) => Object.keys(value),
    get: (value, key) => {
      const found = value[key];
      return typeof found === 'string' ? found : Array.isArray(found) && typeof found[0] === 'string' ? found[0] : undefined;
    },
  });
}

/** The active span's `traceparent`, for work that travels in a message (a job, a bus event). */
export function currentTraceparent(from: Context = context.active()): string | undefined {
  if (!installed) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier.traceparent;
}

/** The trace id of `span` (default: the active one; 32 hex digits), or undefined when there is none. */
export function currentTraceId(span: Span | undefined = trace.getActiveSpan()): string | undefined {
  const ids = span?.spanContext();
  return ids && trace.isSpanContextValid(ids) ? ids.traceId : undefined;
}

/** `trace_id` and `span_id` of a span, as log lines carry them. */
export function logFields(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  const ids = span?.spanContext();
  return ids && trace.isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : undefined;
}

/** A link to the span a carrier names (a held message's `traceparent`), for work done for many; undefined if none. */
export function linkFrom(carrier: Record<string, unknown> | string | null | undefined): Link | undefined {
  if (!installed || !carrier) return undefined;
  const ids = trace.getSpanContext(contextFrom(carrier));
  return ids && trace.isSpanContextValid(ids) ? { context: ids } : undefined;
}
