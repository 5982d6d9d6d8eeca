// HTTP between this system's processes: one keep-alive undici Pool per origin. Not `fetch`, which
// refuses the Fetch standard's "bad ports" (persist's default 6000 is one of them).
import { Pool, type Dispatcher } from 'undici';

export interface HttpCall {
  method: string;
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export type HttpAnswer = Dispatcher.ResponseData;

/** Connections kept open to one origin (`http://host:port`) at most. */
const CONNECTIONS_PER_ORIGIN = 64;
/** 4 s: an idle connection is closed before the server's keep-alive (fastify's 72 s, node's 5 s) does. */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

export class HttpPools {
  private readonly pools = new Map<string, Pool>();

  /** Sends one request to `origin`; the answer's body must be read or dumped by the caller. */
  request(origin: string, call: HttpCall): Promise<HttpAnswer> {
    return this.pool(origin).request({
      method: call.method as Dispatcher.HttpMethod,
      path: call.path,
      headers: call.headers,
      body: call.body,
      signal: call.signal,
    });
  }

  /** Closes the pools of origins not in `live` (instances gone from discovery); their requests in flight fail. */
  keepOnly(live: ReadonlySet<string>): void {
    for (const [origin, pool] of this.pools) {
      if (live.has(origin)) continue;
      this.pools.delete(origin);
      void pool.destroy().catch(() => {});
    }
  }

  /** Closes every pool: waits for requests in flight, then ends the connections. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: CONNECTIONS_PER_ORIGIN, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/** `http://address:port` of an instance. */
export function originOf(instance: { address: string; port: number }): string {
  const host = instance.address.includes(':') ? `[${instance.address}]` : instance.address;
  return `http://${host}:${instance.port}`;
}

/** Reads an answer's body as text, or as JSON when it parses (the text otherwise; undefined when empty). */
export async function readBody(answer: HttpAnswer): Promise<unknown> {
  const text = await answer.body.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
