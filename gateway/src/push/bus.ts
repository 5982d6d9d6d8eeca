// The gateway instances' shared bus on their PostgreSQL database: LISTEN/NOTIFY on one channel,
// so a push or an invalidation made on one instance reaches the connections and caches of all.
// A message over NOTIFY's 8000-byte limit goes through the `push_outbox` table and the
// notification carries only its row id. The sender handles its own message directly and skips
// its echo, so local pushes never wait on the database.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay well under it. */
const NOTIFY_LIMIT_BYTES = 7_500;
/** Outbox rows older than this are deleted (every receiver has read them long before). */
const OUTBOX_RETENTION_MS = 60_000;

export type BusHandler<M> = (message: M) => void | Promise<void>;

interface Envelope<M> {
  origin: string;
  message?: M;
  /** Row id in push_outbox when the message was too large to inline. */
  ref?: string;
}

export class PushBus<M> {
  private readonly origin = randomUUID();
  private listener: pg.Client | undefined;
  private closed = false;
  private connected = false;
  private cleanup: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: { url: string; channel: string; pool: pg.Pool; log: FastifyBaseLogger; onMessage: BusHandler<M> },
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  /** Connects the listener (reconnecting by itself whenever it drops) and starts the outbox cleanup. */
  async start(): Promise<void> {
    await this.connect();
    this.cleanup = setInterval(() => {
      this.options.pool
        .query(`DELETE FROM push_outbox WHERE created_at < now() - make_interval(secs => $1)`, [OUTBOX_RETENTION_MS / 1000])
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'push outbox cleanup failed'));
    }, OUTBOX_RETENTION_MS / 2).unref();
  }

  /** Handles `message` here and sends it to every other instance, both at once. */
  async publish(message: M): Promise<void> {
    await Promise.all([this.deliver(message), this.send(message)]);
  }

  private async send(message: M): Promise<void> {
    const inline = JSON.stringify({ origin: this.origin, message } satisfies Envelope<M>);
    let payload = inline;
    if (Buffer.byteLength(inline) >= NOTIFY_LIMIT_BYTES) {
      const { rows } = await this.options.pool.query<{ id: string }>('INSERT INTO push_outbox (payload) VALUES ($1::jsonb) RETURNING id::text AS id', [
        JSON.stringify(message),
      ]);
      payload = JSON.stringify({ origin: this.origin, ref: rows[0]!.id } satisfies Envelope<M>);
    }
    await this.options.pool.query('SELECT pg_notify($1, $2)', [this.options.channel, payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.cleanup);
    await this.listener?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url });
    client.on('notification', (notification) => {
      if (notification.channel === this.options.channel && notification.payload) void this.receive(notification.payload);
    });
    client.on('error', (error) => this.options.log.warn({ err: error }, 'push bus connection failed'));
    client.on('end', () => {
      this.connected = false;
      if (!this.closed) void this.reconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${pg.escapeIdentifier(this.options.channel)}`);
    this.listener = client;
    this.connected = true;
  }

  /** Pushes sent while the listener is down are missed here; clients catch up with notifications.list. */
  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt += 1) {
      await sleep(Math.min(5_000, 100 * 2 ** attempt));
      if (this.closed) return;
      try {
        await this.connect();
        this.options.log.info('push bus reconnected');
        return;
      } catch (error) {
        this.options.log.warn({ err: error, attempt }, 'push bus reconnect failed');
      }
    }
  }

  private async receive(payload: string): Promise<void> {
    try {
      const envelope = JSON.parse(payload) as Envelope<M>;
      if (envelope.origin === this.origin) return;
      let message = envelope.message;
      if (envelope.ref !== undefined) {
        const { rows } = await this.options.pool.query<{ payload: M }>('SELECT payload FROM push_outbox WHERE id = $1::bigint', [envelope.ref]);
        message = rows[0]?.payload;
        if (message === undefined) throw new Error(`push outbox row ${envelope.ref} is gone`);
      }
      if (message !== undefined) await this.deliver(message);
    } catch (error) {
      this.options.log.error({ err: error }, 'push bus message could not be handled');
    }
  }

  private async deliver(message: M): Promise<void> {
    try {
      await this.options.onMessage(message);
    } catch (error) {
      this.options.log.error({ err: error }, 'push bus handler failed');
    }
  }
}
