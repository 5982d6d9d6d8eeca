// The chaos run's users: JSON-RPC over WebSocket to the gateways, each user on one gateway and
// moving to another when its connection drops (with its token). Publishers publish at a steady
// pace; subscribers acknowledge about half of what is pushed to them (some by archiving it), may
// mark all read now and then, and one keeps muting and unmuting a topic. Every call is recorded
// with its outcome: ok, an error code, or `no answer` (the connection died under it).
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export type Outcome = 'ok' | string;

export interface CallRecord {
  method: 'notifications.publish' | 'notifications.ack' | 'notifications.archive' | 'notifications.readAll';
  user: string;
  /** publish: its unique title; ack and archive: the notification id; readAll: empty. */
  key: string;
  startedAt: number;
  endedAt: number;
  /** `ok`, the contract error code, or `NO_ANSWER`. */
  outcome: Outcome;
}

export const NO_ANSWER = 'NO_ANSWER';
const CALL_TIMEOUT_MS = 30_000;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: { code: string }) => void;
}

/** One user's connection: reconnects (to the next gateway) whenever it drops. */
class UserConnection {
  private socket: WebSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private attempt = 0;
  private closed = false;
  private connecting: Promise<void> | undefined;
  onPush: (method: string, params: unknown) => void = () => undefined;

  constructor(
    readonly name: string,
    private readonly gatewayPorts: () => number[],
    private token: string | undefined,
    private gatewayIndex: number,
  ) {}

  setToken(token: string): void {
    this.token = token;
  }

  private async connect(): Promise<void> {
    for (;;) {
      if (this.closed) throw Object.assign(new Error('closed'), { code: NO_ANSWER });
      const ports = this.gatewayPorts();
      const port = ports[this.gatewayIndex % ports.length]!;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws${this.token ? `?token=${encodeURIComponent(this.token)}` : ''}`);
      try {
        await Promise.race([once(socket, 'open'), sleep(5_000).then(() => Promise.reject(new Error('connect timeout')))]);
        this.socket = socket;
        socket.on('message', (data) => this.receive(String(data)));
        socket.on('close', () => this.dropped(socket));
        socket.on('error', () => undefined);
        this.attempt = 0;
        return;
      } catch {
        socket.terminate();
        socket.on('error', () => undefined);
        this.gatewayIndex += 1; // try the next gateway
        this.attempt += 1;
        await sleep(Math.min(2_000, 50 * 2 ** this.attempt) * Math.random());
      }
    }
  }

  private dropped(socket: WebSocket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    for (const waiter of this.pending.values()) waiter.reject({ code: NO_ANSWER });
    this.pending.clear();
    this.gatewayIndex += 1;
  }

  private receive(text: string): void {
    const message = JSON.parse(text) as { id?: number | null; method?: string; params?: unknown; result?: unknown; error?: { data?: { code?: string } } };
    if (message.method !== undefined && message.id === undefined) return this.onPush(message.method, message.params);
    if (typeof message.id !== 'number') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error) waiter.reject({ code: message.error.data?.code ?? 'INTERNAL' });
    else waiter.resolve(message.result);
  }

  async call<T>(method: string, params: unknown): Promise<T> {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
      await this.connecting;
    }
    const socket = this.socket!;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject({ code: NO_ANSWER });
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.terminate();
  }
}

/** Answers worth another try while setting up (a busy machine answers slowly at first). */
const RETRYABLE = new Set(['UNAVAILABLE', 'TIMEOUT', 'RATE_LIMITED', NO_ANSWER]);

/** One setup step, tried again for up to a minute while the answer is retryable. */
async function setUp<T>(step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await step();
    } catch (error) {
      if (!RETRYABLE.has((error as { code?: string }).code ?? '') || Date.now() > deadline) throw Object.assign(new Error(`chaos setup failed: ${JSON.stringify(error)}`), { cause: error });
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}

/** A step repeated after its answer was lost may find its work done: a subscription that exists is fine. */
function alreadyDone(error: { code?: string }): undefined {
  if (error.code === 'CONFLICT') return undefined;
  throw error;
}

export interface LoadOptions {
  users: number;
  publishers: number;
  /** Pause between one publisher's publishes (ms). */
  publishEveryMs: number;
  /** Share of pushed notifications a subscriber acknowledges. */
  ackShare: number;
  /** Share of those acknowledgements made by archiving the notification instead (default 0). */
  archiveShare?: number;
  /** How often (ms) each subscriber marks all read (default 0: never). */
  readAllEveryMs?: number;
}

export interface Load {
  records: CallRecord[];
  /** `notification` pushes a user received more than once (same notification), in all. */
  duplicatePushes(): number;
  users: { id: string; name: string }[];
  /** Stops publishing and acknowledging, waits for calls under way, closes the connections. */
  stop(): Promise<void>;
}

/** Registers the users, gives each publisher a topic everyone else follows, and starts the traffic. */
export async function startLoad(gatewayPorts: () => number[], options: LoadOptions): Promise<Load> {
  const tag = Date.now().toString(36);
  const records: CallRecord[] = [];
  const connections = Array.from({ length: options.users }, (_, i) => new UserConnection(`user${i}`, gatewayPorts, undefined, i));
  const users: { id: string; name: string }[] = [];
  for (const connection of connections) {
    const credentials = { email: `${connection.name}-${tag}@chaos.test`, password: 'correct horse battery' };
    // A registration whose answer was lost may have happened: then the email is taken, and logging in finds it.
    const { user, token } = await setUp(() =>
      connection.call<{ user: { id: string }; token: string }>('users.register', { ...credentials, name: connection.name }).catch((error: { code?: string }) => {
        if (error.code === 'CONFLICT') return connection.call<{ user: { id: string }; token: string }>('users.login', credentials);
        throw error;
      }),
    );
    connection.setToken(token);
    users.push({ id: user.id, name: connection.name });
  }
  const publishers = connections.slice(0, options.publishers);
  const topics: string[] = [];
  for (const publisher of publishers) {
    const name = `chaos-${publisher.name}-${tag}`;
    topics.push((await setUp(() => publisher.call<{ id: string }>('topics.create', { name }))).id);
  }
  for (const [i, connection] of connections.entries()) {
    for (const [j, topic] of topics.entries()) {
      if (i !== j) await setUp(() => connection.call('topics.subscribe', { topicId: topic }).catch(alreadyDone));
    }
  }

  let running = true;
  const inFlight = new Set<Promise<unknown>>();
  const record = (method: CallRecord['method'], user: string, key: string, call: () => Promise<unknown>) => {
    const startedAt = Date.now();
    const promise = call().then(
      () => records.push({ method, user, key, startedAt, endedAt: Date.now(), outcome: 'ok' }),
      (error: { code?: string }) => records.push({ method, user, key, startedAt, endedAt: Date.now(), outcome: error.code ?? NO_ANSWER }),
    );
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
    return promise;
  };

  const pushed = new Map<string, number>();
  for (const [i, connection] of connections.entries()) {
    connection.onPush = (method, params) => {
      if (method !== 'notification') return;
      const { id } = params as { id: string };
      pushed.set(`${id}/${i}`, (pushed.get(`${id}/${i}`) ?? 0) + 1);
      if (!running || Math.random() >= options.ackShare) return;
      if (Math.random() < (options.archiveShare ?? 0)) void record('notifications.archive', users[i]!.id, id, () => connection.call('notifications.archive', { notificationId: id }));
      else void record('notifications.ack', users[i]!.id, id, () => connection.call('notifications.ack', { notificationId: id }));
    };
  }
  const readers = options.readAllEveryMs
    ? connections.slice(options.publishers).map(async (connection, k) => {
        const user = users[options.publishers + k]!.id;
        // Spread over the period, so the subscribers do not all mark at once.
        await sleep(Math.random() * options.readAllEveryMs!);
        while (running) {
          const began = Date.now();
          await record('notifications.readAll', user, '', () => connection.call('notifications.readAll', {}));
          await sleep(Math.max(0, options.readAllEveryMs! - (Date.now() - began)));
        }
      })
    : [];
  const loops: Promise<void>[] = publishers.map(async (publisher, i) => {
    for (let seq = 0; running; seq += 1) {
      const title = `${publisher.name}-${seq}-${tag}`;
      const began = Date.now();
      await record('notifications.publish', users[i]!.id, title, () => publisher.call('notifications.publish', { topicId: topics[i], title, body: 'chaos' }));
      await sleep(Math.max(0, options.publishEveryMs - (Date.now() - began)));
    }
  });

  // One follower keeps muting and unmuting the first topic: muted deliveries are stored read and
  // not counted, so the invariant (unread = unacknowledged deliveries) holds across the flips too.
  const muter = connections.length > publishers.length ? connections[connections.length - 1] : undefined;
  if (muter && topics[0]) {
    loops.push(
      (async () => {
        for (let muted = true; running; muted = !muted) {
          await muter.call('topics.preferences', { topicId: topics[0], muted }).catch(() => undefined);
          await sleep(options.publishEveryMs * 3);
        }
      })(),
    );
  }

  return {
    records,
    duplicatePushes: () => [...pushed.values()].reduce((sum, n) => sum + n - 1, 0),
    users,
    async stop() {
      running = false;
      await Promise.all([...loops, ...readers]);
      await Promise.allSettled([...inFlight]);
      for (const connection of connections) connection.close();
    },
  };
}
