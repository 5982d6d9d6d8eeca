// An OTLP/HTTP trace receiver for tests, in the test's own process: services started with
// OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.url> send it their spans (`POST /v1/traces`, JSON), and a
// test waits until the spans it expects have arrived (they come in batches every
// OTEL_BSP_SCHEDULE_DELAY ms) and follows their parent chains.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const unzip = promisify(gunzip);

export type ReceivedSpanKind = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
/** OTLP's span kinds by number (SPAN_KIND_INTERNAL = 1, ...). */
const KINDS: readonly ReceivedSpanKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

export interface ReceivedSpan {
  /** `service.name` of the resource that sent it. */
  service: string;
  /** `service.instance.id` of the resource that sent it. */
  instance: string | undefined;
  traceId: string;
  spanId: string;
  /** Undefined for a trace's root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: ReceivedSpanKind;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string | undefined };
  events: { name: string; attributes: Record<string, unknown> }[];
}

export interface OtlpReceiver {
  /** The base URL to give services as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Export requests received so far (an empty one counts too). */
  readonly requests: number;
  /**
   * Resolves with what `predicate` answers once it answers something truthy, asked again as spans
   * arrive; rejects after `timeoutMs` naming the spans received.
   */
  waitFor<T>(predicate: (spans: readonly ReceivedSpan[]) => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** The spans of one trace received so far. */
  trace(traceId: string): ReceivedSpan[];
  /** The span's parent, its parent's parent, … as far as they have arrived (nearest first). */
  ancestors(span: ReceivedSpan): ReceivedSpan[];
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number; arrayValue?: { values?: AnyValue[] }; kvlistValue?: { values?: KeyValue[] } };
type KeyValue = { key: string; value?: AnyValue };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: KeyValue[];
  links?: { traceId: string; spanId: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: KeyValue[] }[];
}
interface ExportRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

function valueOf(value: AnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.kvlistValue) return attributesOf(value.kvlistValue.values);
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

/** OTLP/JSON ids are hex; some encoders send base64 (16 or 8 bytes): both become lowercase hex. */
function hexId(id: string | undefined, bytes: number): string | undefined {
  if (!id) return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(id)) return id.toLowerCase();
  const decoded = Buffer.from(id, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : id;
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? unzip(raw) : raw;
}

/** Starts a receiver on a free loopback port; closed after the test when `t` is given. */
export async function startOtlpReceiver(t?: TestContext): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;

  const server = createServer((request, response) => {
    void (async () => {
      if (request.method !== 'POST' || request.url?.split('?')[0] !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) {
        response.writeHead(415, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'this receiver takes OTLP/JSON only' }));
        return;
      }
      let parsed: ExportRequest;
      try {
        parsed = JSON.parse((await bodyOf(request)).toString('utf8')) as ExportRequest;
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'not JSON' }));
        return;
      }
      requests += 1;
      for (const resourceSpans of parsed.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service: String(resource['service.name'] ?? ''),
              instance: typeof resource['service.instance.id'] === 'string' ? resource['service.instance.id'] : undefined,
              traceId: hexId(span.traceId, 16)!,
              spanId: hexId(span.spanId, 8)!,
              parentSpanId: hexId(span.parentSpanId, 8),
              name: span.name,
              kind: KINDS[span.kind ?? 0] ?? 'unspecified',
              attributes: attributesOf(span.attributes),
              links: (span.links ?? []).map((link) => ({ traceId: hexId(link.traceId, 16)!, spanId: hexId(link.spanId, 8)!, attributes: attributesOf(link.attributes) })),
              status: { code: span.status?.code ?? 0, message: span.status?.message },
              events: (span.events ?? []).map((event) => ({ name: event.name, attributes: attributesOf(event.attributes) })),
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const waiter of [...waiters]) waiter();
    })().catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const byId = (traceId: string, spanId: string) => spans.find((span) => span.traceId === traceId && span.spanId === spanId);
  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${port}`,
    spans,
    get requests() {
      return requests;
    },
    waitFor<T>(predicate: (all: readonly ReceivedSpan[]) => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = predicate(spans);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = spans.map((span) => `${span.service}: ${span.name}`);
          reject(new Error(`the spans waited for did not arrive within ${timeoutMs} ms; received ${spans.length}: ${JSON.stringify(seen.slice(-60))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    trace: (traceId) => spans.filter((span) => span.traceId === traceId),
    ancestors(span) {
      const chain: ReceivedSpan[] = [];
      for (let at = span; at.parentSpanId; ) {
        const parent = byId(at.traceId, at.parentSpanId);
        if (!parent || chain.includes(parent)) break;
        chain.push(parent);
        at = parent;
      }
      return chain;
    },
    async close() {
      server.closeAllConnections();
      await promisify(server.close.bind(server))().catch(() => undefined);
    },
  };
  t?.after(() => receiver.close());
  return receiver;
}
