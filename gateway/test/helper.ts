// Gateway tests: the system as real processes, started from the one description of it
// (TOPOLOGY in @notify/lib/testing): discovery, auth ×2, persist, counter, gateway on one test
// PostgreSQL, a mailer node and the SMTP sink or avatar when asked for; and real clients over both
// transports.
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import {
  CHEAP_PASSWORDS,
  FAST_MAIL_QUEUE,
  mailbox,
  startSystem as startTopology,
  TOPOLOGY,
  type Mailbox,
  type ServiceOverride,
  type SystemProcess,
} from '@notify/lib/testing';
import type { PushEvent, PushEvents, RpcError, RpcMethod, RpcParams, RpcResults } from '@notify/lib/rpc';

export interface System {
  discovery: SystemProcess;
  persist: readonly SystemProcess[];
  counter: SystemProcess;
  gateways: readonly SystemProcess[];
  gatewayDatabaseUrl: string;
  authDatabaseUrl: string;
  persistDatabaseUrl: string;
  counterDatabaseUrl: string;
  /** Starts one more gateway on the same database (env added to the usual). */
  startGateway(env?: Record<string, string>): Promise<SystemProcess>;
  auth: readonly SystemProcess[];
  /** The mailer node(s) and the SMTP sink they send to, when asked for. */
  mail: MailCluster | undefined;
  /** The avatar service's instances, when asked for (none otherwise). */
  avatar: readonly SystemProcess[];
}

export interface MailCluster {
  /** The mail the sink received. */
  sink: Mailbox;
  nodes: readonly SystemProcess[];
  /** Starts one more mailer node on the same queue. */
  startNode(env?: Record<string, string>): Promise<SystemProcess>;
  /** The mailer's database (its queue and digest state). */
  databaseUrl: string;
}

export interface SystemOptions {
  persistInstances?: number;
  gateways?: number;
  gatewayEnv?: Record<string, string>;
  counterEnv?: Record<string, string>;
  /** Also run a mailer node and the SMTP sink on loopback (welcome and notification emails). */
  mailer?: boolean;
  /** Also run the avatar service (the gateway proxies /avatars to it). */
  avatar?: boolean;
  /** Added to every service's environment (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  env?: Record<string, string>;
}

export async function startSystem(t: TestContext, options: SystemOptions = {}): Promise<System> {
  // No login deadline unless a test sets one: anonymous clients here (fuzzers, browsers) take their time.
  // Upstream calls may take 20 s, not 5: a loaded 2-core CI machine has made auth answer a
  // registration in more than 5 s, and these tests are not about that deadline.
  // Generous deadlines on a busy machine: a version read past its deadline would hand out an avatar
  // URL without its version (the fallback for a sick avatar service), which the tests do not expect.
  const gatewayEnv = { AUTH_DEADLINE_MS: '0', UPSTREAM_TIMEOUT_MS: '20000', AVATAR_VERSIONS_TIMEOUT_MS: '20000', ...options.gatewayEnv };
  const services: Record<string, ServiceOverride> = {
    // Welcome emails only where a mailer runs.
    auth: { env: { ...CHEAP_PASSWORDS, WELCOME_EMAILS: String(options.mailer ?? false), WELCOME_RELAY_INTERVAL_MS: '300' } },
    persist: { instances: options.persistInstances ?? 1 },
    counter: { instances: 1, env: { ...options.counterEnv } },
    gateway: { instances: options.gateways ?? 1, env: gatewayEnv },
    ...(options.mailer ? { 'smtp-sink': {}, mailer: { instances: 1, env: FAST_MAIL_QUEUE } } : {}),
    ...(options.avatar ? { avatar: {} } : {}),
  };
  const system = await startTopology(TOPOLOGY, { t, services, env: { DRAIN_DELAY_MS: '0', TWO_PC_SWEEP_INTERVAL_MS: '200', ...options.env } });
  const database = (name: string) => system.databaseUrl(name)!;
  return {
    discovery: system.of('discovery')[0]!,
    persist: system.of('persist'),
    counter: system.of('counter')[0]!,
    gateways: system.of('gateway'),
    auth: system.of('auth'),
    gatewayDatabaseUrl: database('gateway'),
    authDatabaseUrl: database('auth'),
    persistDatabaseUrl: database('persist'),
    counterDatabaseUrl: database('counter'),
    startGateway: (env = {}) => system.add('gateway', env),
    avatar: options.avatar ? system.of('avatar') : [],
    mail: options.mailer ? { sink: mailbox(system.of('smtp-sink')[0]!), nodes: system.of('mailer'), startNode: (env = {}) => system.add('mailer', env), databaseUrl: database('mailer') } : undefined,
  };
}

/** A failed call: the contract error, and for JSON-RPC the error number. */
export class CallError extends Error {
  constructor(
    readonly error: RpcError,
    readonly rpcCode?: number,
  ) {
    super(`${error.code}: ${error.message}`);
  }
}

/** What both client kinds offer the tests. */
export interface Client {
  call<M extends RpcMethod>(method: M, params?: RpcParams<M>): Promise<RpcResults[M]>;
  /** Resolves with the next push of `event` matching `predicate` (pushes already received count). */
  next<E extends PushEvent>(event: E, predicate?: (data: PushEvents[E]) => boolean, timeoutMs?: number): Promise<PushEvents[E]>;
  pushes: { event: string; data: unknown }[];
  close(): Promise<void>;
}

class PushLog {
  readonly pushes: { event: string; data: unknown }[] = [];
  private readonly waiters = new Set<() => void>();

  add(event: string, data: unknown): void {
    this.pushes.push({ event, data });
    for (const waiter of this.waiters) waiter();
  }

  next<E extends PushEvent>(event: E, predicate: (data: PushEvents[E]) => boolean = () => true, timeoutMs = 10_000): Promise<PushEvents[E]> {
    let seen = 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (; seen < this.pushes.length; seen += 1) {
          const push = this.pushes[seen]!;
          if (push.event === event && predicate(push.data as PushEvents[E])) {
            this.waiters.delete(check);
            clearTimeout(timer);
            resolve(push.data as PushEvents[E]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no "${event}" push within ${timeoutMs} ms; got ${JSON.stringify(this.pushes.map((p) => p.event))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

/** A JSON-RPC 2.0 client over plain WebSocket at /ws. */
export async function jsonRpcClient(gateway: Pick<SystemProcess, 'port'>, token?: string, t?: TestContext): Promise<Client & { socket: WebSocket; send(raw: string): void; replies: unknown[] }> {
  const socket = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  const log = new PushLog();
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const replies: unknown[] = [];
  let nextId = 1;
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number | null; method?: string; params?: unknown; result?: unknown; error?: { code: number; message: string; data: RpcError } };
    if (message.method !== undefined && message.id === undefined) return log.add(message.method, message.params);
    replies.push(message);
    const waiter = typeof message.id === 'number' ? pending.get(message.id) : undefined;
    if (!waiter) return;
    pending.delete(message.id as number);
    if (message.error) waiter.reject(new CallError({ ...message.error.data, message: message.error.message }, message.error.code));
    else waiter.resolve(message.result);
  });
  await once(socket, 'open');
  const client = {
    socket,
    replies,
    pushes: log.pushes,
    send: (raw: string) => socket.send(raw),
    call<M extends RpcMethod>(method: M, params?: RpcParams<M>) {
      const id = nextId++;
      return new Promise<RpcResults[M]>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: params ?? {} }));
      });
    },
    next: log.next.bind(log),
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await once(socket, 'close');
    },
  };
  t?.after(() => client.close());
  return client;
}

/** A socket.io client (websocket transport). */
export async function socketIoClient(gateway: Pick<SystemProcess, 'port'>, token?: string, t?: TestContext): Promise<Client & { socket: Socket }> {
  const socket = io(`http://127.0.0.1:${gateway.port}`, { transports: ['websocket'], auth: token ? { token } : {}, reconnection: false });
  const log = new PushLog();
  socket.onAny((event: string, data: unknown) => log.add(event, data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const client = {
    socket,
    pushes: log.pushes,
    call<M extends RpcMethod>(method: M, params?: RpcParams<M>) {
      return new Promise<RpcResults[M]>((resolve, reject) => {
        socket.emit(method, params ?? {}, (reply: { result?: RpcResults[M]; error?: RpcError }) => {
          if (reply.error) reject(new CallError(reply.error));
          else resolve(reply.result as RpcResults[M]);
        });
      });
    },
    next: log.next.bind(log),
    async close() {
      socket.disconnect();
    },
  };
  t?.after(() => client.close());
  return client;
}

/** Registers a fresh user through `client`; returns its id and token. */
export async function register(client: Client, name: string): Promise<{ id: string; token: string; email: string }> {
  const email = `${name}-${Math.random().toString(36).slice(2)}@example.test`;
  const { user, token } = await client.call('users.register', { email, password: 'correct horse battery', name });
  return { id: user.id, token, email };
}

/** The contract error of a call expected to fail. */
export async function failure(promise: Promise<unknown>): Promise<CallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CallError) return error;
    throw error;
  }
  throw new Error('the call succeeded; a failure was expected');
}

export { metricSample as metric } from '@notify/lib/testing';

/** Runs `run` on a fresh connection to a service's database, closed afterwards. */
export async function withPg<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Waits (up to `timeoutMs`) for a push of `event` among those after the first `since` that `matches`; returns its data. */
export async function pushedSince<E extends PushEvent>(client: Pick<Client, 'pushes'>, since: number, event: E, matches: (data: PushEvents[E]) => boolean = () => true, timeoutMs = 10_000): Promise<PushEvents[E]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = client.pushes.slice(since).find((push) => push.event === event && matches(push.data as PushEvents[E]));
    if (found) return found.data as PushEvents[E];
    if (Date.now() > deadline) throw new Error(`no matching "${event}" push within ${timeoutMs} ms; got ${JSON.stringify(client.pushes.slice(since)).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
