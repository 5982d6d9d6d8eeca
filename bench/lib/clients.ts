// Lean load-generator clients, so the 2-core machine spends its CPU on the system under test:
// a JSON-RPC 2.0 WebSocket client for the gateway's /ws, and a keep-alive HTTP/1.1 client for
// calling services directly (one request in flight per socket, no pipelining; responses are
// read by Content-Length, which every fastify JSON answer carries).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { RpcMethod, RpcParams, RpcResults } from '@notify/lib/rpc';

export class RpcCallError extends Error {
  constructor(
    readonly method: string,
    readonly error: { code: number; message: string; data?: { code?: string } },
  ) {
    super(`${method}: ${error.data?.code ?? error.code} ${error.message}`);
  }
}

type Pending = { method: string; resolve: (value: unknown) => void; reject: (error: Error) => void };

/** One JSON-RPC connection to the gateway (`?token=` logs it in at connect). */
export class RpcSocket {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Called for every server push (a JSON-RPC notification) with its method and params. */
  onPush: ((method: string, params: unknown) => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.receive(data));
    socket.on('close', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${waiter.method}: connection closed`));
      this.pending.clear();
    });
    socket.on('error', () => undefined);
  }

  static async open(gatewayPort: number, token?: string): Promise<RpcSocket> {
    const socket = new WebSocket(`ws://127.0.0.1:${gatewayPort}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`, { perMessageDeflate: false });
    const client = new RpcSocket(socket);
    await once(socket, 'open');
    return client;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  call<M extends RpcMethod>(method: M, params?: RpcParams<M>): Promise<RpcResults[M]> {
    const id = this.nextId++;
    return new Promise<RpcResults[M]>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject });
      this.socket.send(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params === undefined ? '{}' : JSON.stringify(params)}}`);
    });
  }

  private receive(data: Buffer): void {
    const message = JSON.parse(data.toString('utf8')) as {
      id?: number | null;
      method?: string;
      params?: unknown;
      result?: unknown;
      error?: { code: number; message: string; data?: { code?: string } };
    };
    if (message.method !== undefined) {
      this.onPush?.(message.method, message.params);
      return;
    }
    if (typeof message.id !== 'number') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error) waiter.reject(new RpcCallError(waiter.method, message.error));
    else waiter.resolve(message.result);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }
}

/** A prepared GET: the request bytes are built once and written as is on every call. */
export function httpGet(path: string, headers: Record<string, string> = {}): Buffer {
  const lines = [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: keep-alive', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive HTTP/1.1 connection with at most one request in flight. Resolves with the status. */
export class KeepAliveConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static async open(port: number): Promise<KeepAliveConnection> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new KeepAliveConnection(socket);
  }

  request(raw: Buffer): Promise<number> {
    if (this.waiter) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise<number>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(raw);
    });
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = data.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`response without content-length: ${head.slice(0, 200)}`));
    const total = headerEnd + 4 + Number(length[1]);
    if (data.length < total) {
      this.chunks = [data];
      return;
    }
    this.chunks = [];
    this.buffered = 0;
    const status = Number(head.slice(9, 12));
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(status);
  }

  private fail(error: Error): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** JSON over fetch, for setup calls (registering users, subscribing) made directly to a service. */
export async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Runs `task` for 0..count-1 with at most `concurrency` at once; rejects on the first failure. */
export async function inParallel<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/** The few parts of undici's Pool the benchmark uses (undici is not a dependency of the repo). */
export interface UndiciPool {
  request(options: { path: string; method: 'GET'; headers?: Record<string, string> }): Promise<{ statusCode: number; body: { dump(): Promise<void> } }>;
  close(): Promise<void>;
}
type UndiciPoolClass = new (origin: string, options: { connections: number; pipelining: number }) => UndiciPool;

/**
 * undici's Pool when the package can be imported (from BENCH_UNDICI, a path to its entry file, or
 * as `undici`); undefined otherwise, and the direct calls use KeepAliveConnection instead.
 */
export async function loadUndiciPool(): Promise<UndiciPoolClass | undefined> {
  const specifier = process.env.BENCH_UNDICI ?? 'undici';
  try {
    const module = (await import(specifier)) as { Pool?: unknown };
    return typeof module.Pool === 'function' ? (module.Pool as UndiciPoolClass) : undefined;
  } catch {
    return undefined;
  }
}
