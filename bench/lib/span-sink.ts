// The bench's OTLP/HTTP trace receiver (--tracing): answers 200 to `POST /v1/traces` on 127.0.0.1
// and counts the spans in each body without storing or parsing it, so the services pay for making
// and sending their spans and the bench pays as little as a receiver can for taking them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One occurrence per span in an OTLP JSON body (events carry `timeUnixNano`, links no times). */
const PER_SPAN = Buffer.from('"endTimeUnixNano"');

export interface SpanSink {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Spans counted so far. */
  readonly spans: number;
  /** Export requests answered so far, and their bodies' total bytes. */
  readonly requests: number;
  readonly bytes: number;
  /** Bodies that were not OTLP JSON (answered 200 too, their spans not counted). */
  readonly uncounted: number;
  close(): Promise<void>;
}

function countSpans(body: Buffer): number {
  let count = 0;
  for (let at = body.indexOf(PER_SPAN); at !== -1; at = body.indexOf(PER_SPAN, at + PER_SPAN.length)) count += 1;
  return count;
}

export async function startSpanSink(): Promise<SpanSink> {
  const totals = { spans: 0, requests: 0, bytes: 0, uncounted: 0 };
  const server: Server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/v1/traces') {
      request.resume();
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      totals.requests += 1;
      totals.bytes += body.length;
      if (String(request.headers['content-type']).includes('json')) totals.spans += countSpans(body);
      else totals.uncounted += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get spans() {
      return totals.spans;
    },
    get requests() {
      return totals.requests;
    },
    get bytes() {
      return totals.bytes;
    },
    get uncounted() {
      return totals.uncounted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
