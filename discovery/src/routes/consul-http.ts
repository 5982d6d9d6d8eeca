// HTTP conventions shared by the Consul routes: text/plain errors, query-meta headers, blocking reads.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Acl } from '../acl/index.ts';
import { parseDuration, type Registry } from '../registry/index.ts';

/** Options every Consul route plugin receives. */
export interface ConsulRoutesOptions {
  registry: Registry;
  acl: Acl;
}

/** 5 min, Consul's default `wait` for a blocking query. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
/** 10 min, Consul's ceiling on `wait`. */
export const MAX_WAIT_MS = 10 * 60_000;

type Query = Record<string, string | string[] | undefined>;

/** First value of a query parameter (fastify gives an array when it repeats). */
export function queryValue(request: FastifyRequest, key: string): string | undefined {
  const value = (request.query as Query)[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a repeatable query parameter such as `tag`. */
export function queryValues(request: FastifyRequest, key: string): string[] {
  const value = (request.query as Query)[key];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Consul answers errors as a plain-text body. */
export function sendText(reply: FastifyReply, statusCode: number, message: string): FastifyReply {
  return reply.code(statusCode).type('text/plain; charset=utf-8').send(message);
}

/**
 * Consul's boolean query flags: present with no value means true (`?passing`), otherwise Go's
 * strconv.ParseBool spellings. Returns undefined for a value Go would reject.
 */
export function queryFlag(request: FastifyRequest, key: string): boolean | undefined {
  const query = request.query as Query;
  if (!(key in query)) return false;
  const value = queryValue(request, key) ?? '';
  if (value === '') return true;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** Sends a JSON read with Consul's query-meta headers; `?pretty` indents as Consul does. */
export function sendRead(request: FastifyRequest, reply: FastifyReply, index: number, body: unknown): FastifyReply {
  reply.header('X-Consul-Index', String(index));
  reply.header('X-Consul-KnownLeader', 'true');
  reply.header('X-Consul-LastContact', '0');
  if ((request.query as Query).pretty !== undefined) {
    return reply.type('application/json').send(JSON.stringify(body, null, 4));
  }
  return reply.send(body);
}

/**
 * Answers 500 "No path to datacenter" (Consul's reply) when `?dc=` names another datacenter.
 * Returns false when it has answered.
 */
export function checkDatacenter(request: FastifyRequest, reply: FastifyReply, registry: Registry): boolean {
  const dc = queryValue(request, 'dc');
  if (dc && dc !== registry.datacenter) {
    sendText(reply, 500, 'No path to datacenter');
    return false;
  }
  return true;
}

/**
 * Runs the blocking part of a Consul read. With `?index=N` equal to the current index it waits
 * until `readIndex()` moves past N or `wait` passes (plus up to wait/16 of jitter, as Consul adds,
 * so a fleet of watchers does not wake in step). Any other index answers at once: lower means
 * the caller is behind, higher means this in-memory registry restarted since the caller's last read.
 * Returns the index to report, or undefined after answering a bad `index`/`wait` with 400.
 */
export async function awaitBlockingRead(
  request: FastifyRequest,
  reply: FastifyReply,
  registry: Registry,
  readIndex: () => number,
): Promise<number | undefined> {
  const waitText = queryValue(request, 'wait');
  let waitMs = DEFAULT_WAIT_MS;
  if (waitText) {
    try {
      waitMs = parseDuration(waitText);
    } catch {
      sendText(reply, 400, 'Invalid wait time');
      return undefined;
    }
  }
  if (waitMs <= 0) waitMs = DEFAULT_WAIT_MS;
  waitMs = Math.min(waitMs, MAX_WAIT_MS);

  const indexText = queryValue(request, 'index');
  if (indexText === undefined || indexText === '') return readIndex();
  if (!/^\d+$/.test(indexText)) {
    sendText(reply, 400, 'Invalid index');
    return undefined;
  }
  const minIndex = Number(indexText);
  if (minIndex === 0 || minIndex !== readIndex()) return readIndex();

  // Stop waiting when the client goes away, so an abandoned watch holds nothing.
  const gone = new AbortController();
  const onClose = () => gone.abort();
  reply.raw.once('close', onClose);
  try {
    await registry.waitForIndex(readIndex, minIndex, waitMs + Math.random() * (waitMs / 16), gone.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
  return readIndex();
}
