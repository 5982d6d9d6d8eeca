// The gateway instances' shared bus on their PostgreSQL database: LISTEN/NOTIFY on one channel,
// so a push or an invalidation made on one instance reaches the connections and caches of all.
// A message over NOTIFY's 8000-byte limit goes through the `push_outbox` table and the
// notification carries only its row id. The sender handles its own message directly and skips
// its echo, so local pushes never wait on the database. Messages sent while a NOTIFY is in flight
// wait and go together in the next one (as many as fit), so a burst is a few NOTIFYs, not one each.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay well under it. */
const NOTIFY_LIMIT_BYTES = 7_500;
/** Outbox rows older than this are deleted (every receiver has read them long before). */
const OUTBOX_RETENTION_MS = 60_000;

export type BusMessageHandler<M> = (message: M) => void | Promise<void>;

interface Envelope<M> {
  origin: string;
  message?: M;
  /** Several messages in one notification, in the order they were sent. */
  messages?: M[];
  /** Row id in push_outbox when the message was too large to inline. */
  ref?: string;
}

/** Reconnect pauses: capped exponential backoff with full jitter, so gateways do not retry in step. */
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** How long a message to the other instances is retried while the database is unreachable. */
const SEND_RETRY_MS = 15_000;

export class PushBus<M> {
  private readonly origin = randomUUID();
  private listener: pg.Client | undefined;
  private closed = false;
  private connected = false;
  /** The one reconnect loop, while it runs: every drop while it runs joins it instead of starting another. */
  private reconnecting: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private cleanup: NodeJS.Timeout | undefined;
  /** Messages waiting for the next NOTIFY, each with its sender's callbacks. */
  private outgoing: { message: M; inline: string; sent: () => void; failed: (error: unknown) => void }[] = [];
  private sending = false;
  /** Connections the listener opened and LISTENs it issued, NOTIFYs sent, over this bus's life (the tests read them). */
  readonly stats = { connects: 0, listens: 0, reconnects: 0, notifies: 0 };

  /** Who hears every message (this instance's and the others'); set once, before `start()`. */
  private onMessage: BusMessageHandler<M> | undefined;

  constructor(
    private readonly options: { url: string; channel: string; pool: pg.Pool; log: FastifyBaseLogger; onMessage?: BusMessageHandler<M>; connectTimeoutMs?: number },
  ) {
    this.onMessage = options.onMessage;
  }

  /** Names who hears every message, for a bus built before its listener (the gateway's fan-out). */
  deliverTo(handler: BusMessageHandler<M>): void {
    if (this.onMessage) throw new Error('the push bus delivers to one handler, and has one');
    this.onMessage = handler;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Connects the listener (reconnecting by itself whenever it drops) and starts the outbox cleanup. */
  async start(): Promise<void> {
    if (!this.onMessage) throw new Error('the push bus has nobody to deliver to (deliverTo) and would drop every message');
    await this.connect();
    this.cleanup = setInterval(() => {
      this.options.pool
        .query(`DELETE FROM push_outbox WHERE created_at < now() - make_interval(secs => $1)`, [OUTBOX_RETENTION_MS / 1000])
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'push outbox cleanup failed'));
    }, OUTBOX_RETENTION_MS / 2).unref();
  }

  /** Handles `message` here and sends it to every other instance, both at once. */
  async publish(message: M): Promise<void> {
    await Promise.all([this.deliver(message), this.sendSoon(message)]);
  }

  /** Resolves once the message is on its way to the other instances (in a NOTIFY of its own or shared). */
  private sendSoon(message: M): Promise<void> {
    return new Promise<void>((sent, failed) => {
      this.outgoing.push({ message, inline: JSON.stringify(message), sent, failed });
      if (!this.sending) void this.sendAll();
    });
  }

  /** The one sender: NOTIFYs one after another, each carrying every waiting message that fits. */
  private async sendAll(): Promise<void> {
    this.sending = true;
    try {
      while (this.outgoing.length) {
        let bytes = Buffer.byteLength(this.outgoing[0]!.inline);
        let count = 1;
        // Envelope overhead included: `{"origin":"<uuid>","messages":[…]}` plus a comma per message.
        while (count < this.outgoing.length && 80 + bytes + Buffer.byteLength(this.outgoing[count]!.inline) + count < NOTIFY_LIMIT_BYTES) {
          bytes += Buffer.byteLength(this.outgoing[count]!.inline);
          count += 1;
        }
        const batch = this.outgoing.splice(0, count);
        try {
          await this.sendRetrying(batch.map((item) => item.message));
          for (const item of batch) item.sent();
        } catch (error) {
          for (const item of batch) item.failed(error);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /**
   * Sends, retrying while the database cannot be reached (a restart takes seconds) for up to
   * SEND_RETRY_MS; after that the other instances miss it (their clients catch up with notifications.list).
   */
  private async sendRetrying(messages: M[]): Promise<void> {
    const deadline = Date.now() + SEND_RETRY_MS;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.send(messages);
      } catch (error) {
        if (this.closed || Date.now() >= deadline) throw error;
        await sleep(Math.min(1_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  private async send(messages: M[]): Promise<void> {
    const envelope: Envelope<M> = messages.length === 1 ? { origin: this.origin, message: messages[0]! } : { origin: this.origin, messages };
    let payload = JSON.stringify(envelope);
    if (Buffer.byteLength(payload) >= NOTIFY_LIMIT_BYTES) {
      const { rows } = await this.options.pool.query<{ id: string }>('INSERT INTO push_outbox (payload) VALUES ($1::jsonb) RETURNING id::text AS id', [
        JSON.stringify(messages.length === 1 ? messages[0] : { messages }),
      ]);
      payload = JSON.stringify({ origin: this.origin, ref: rows[0]!.id } satisfies Envelope<M>);
    }
    this.stats.notifies += 1;
    await this.options.pool.query('SELECT pg_notify($1, $2)', [this.options.channel, payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    clearInterval(this.cleanup);
    await this.reconnecting;
    await this.listener?.end().catch(() => undefined);
  }

  /**
   * One listening connection: connects, LISTENs, and only then is the listener. A failed attempt
   * closes its own client, and a client's drop is reported once (its `end` and `error` both lead
   * to the single reconnect loop, never to a second one).
   */
  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000 });
    let live = false;
    const dropped = () => {
      if (!live) return;
      live = false;
      this.connected = false;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      this.startReconnecting();
    };
    client.on('notification', (notification) => {
      if (notification.channel === this.options.channel && notification.payload) void this.receive(notification.payload);
    });
    client.on('error', (error) => {
      this.options.log.warn({ err: error }, 'push bus connection failed');
      dropped();
    });
    client.on('end', dropped);
    try {
      this.stats.connects += 1;
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.channel)}`);
      this.stats.listens += 1;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    live = true;
    this.listener = client;
    this.connected = true;
  }

  private startReconnecting(): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = this.reconnect().finally(() => (this.reconnecting = undefined));
  }

  /** Pushes sent while the listener is down are missed here; clients catch up with notifications.list. */
  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt += 1) {
      const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempt, 16));
      await sleep(Math.random() * ceiling, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.closed) return;
      try {
        await this.connect();
        this.stats.reconnects += 1;
        this.options.log.info({ attempt }, 'push bus reconnected');
        return;
      } catch (error) {
        // Logged at the first failure and then every tenth: an outage is one line every ~50 s, not a flood.
        if (attempt % 10 === 0) this.options.log.warn({ err: error, attempt }, 'push bus reconnect failed; retrying with backoff');
      }
    }
  }

  private async receive(payload: string): Promise<void> {
    try {
      const envelope = JSON.parse(payload) as Envelope<M>;
      if (envelope.origin === this.origin) return;
      let messages = envelope.messages ?? (envelope.message === undefined ? [] : [envelope.message]);
      if (envelope.ref !== undefined) {
        const { rows } = await this.options.pool.query<{ payload: M }>('SELECT payload FROM push_outbox WHERE id = $1::bigint', [envelope.ref]);
        const stored = rows[0]?.payload;
        if (stored === undefined) throw new Error(`push outbox row ${envelope.ref} is gone`);
        // Only a batch that was too large is stored as `{messages}` (single messages are stored bare).
        messages = isBatch<M>(stored) ? stored.messages : [stored];
      }
      for (const message of messages) await this.deliver(message);
    } catch (error) {
      this.options.log.error({ err: error }, 'push bus message could not be handled');
    }
  }

  private async deliver(message: M): Promise<void> {
    try {
      await this.onMessage?.(message);
    } catch (error) {
      this.options.log.error({ err: error }, 'push bus handler failed');
    }
  }
}

function isBatch<M>(stored: unknown): stored is { messages: M[] } {
  return typeof stored === 'object' && stored !== null && Array.isArray((stored as { messages?: unknown }).messages) && Object.keys(stored).length === 1;
}
