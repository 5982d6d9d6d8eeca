// The digest's durable state, in the mailer's own database: each user's current window (when it
// ends, how many emails went out in it) and every notification email's decision (sent on its own,
// or held for its window's digest, with what the digest lists). A decision is made once per email
// (a retried job finds its own), under a per-user lock, with the database's clock.
import pg from 'pg';

export interface DigestSettings {
  threshold: number;
  windowMinutes: number;
}

export type Decision = { send: true } | { send: false; windowId: string; endsAt: Date };

export interface HeldItem<T> {
  key: string;
  item: T;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS digest_windows (
  user_id    text PRIMARY KEY,
  window_id  text NOT NULL,
  ends_at    timestamptz NOT NULL,
  sent       integer NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_decisions (
  key          text PRIMARY KEY,
  user_id      text NOT NULL,
  -- NULL: sent on its own; otherwise the digest window it is held for.
  window_id    text,
  ends_at      timestamptz,
  item         jsonb,
  decided_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  digested_at  timestamptz
);
CREATE INDEX IF NOT EXISTS digest_decisions_window ON digest_decisions (window_id) WHERE window_id IS NOT NULL;
`;

export class DigestStore {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    this.pool.on('error', () => undefined);
  }

  /** Creates the tables if missing (the database itself exists: the queue made it). */
  async start(): Promise<void> {
    // Several nodes may start at once: one creates the tables, the others wait for it.
    await this.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('mailer digest schema'))");
      await client.query(SCHEMA);
    });
  }

  /**
   * Whether the email `key` to `userId` goes out now or is held for a digest: the first
   * `threshold` of a window go out, the rest are held until it ends. A window starts with the first
   * email after the last one ended. Asked again for the same key, answers as the first time.
   */
  async decide<T>(key: string, userId: string, settings: DigestSettings, item: T): Promise<Decision> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`digest:${userId}`]);
      const made = await client.query<{ window_id: string | null; ends_at: Date | null }>('SELECT window_id, ends_at FROM digest_decisions WHERE key = $1', [key]);
      if (made.rows[0]) return decisionOf(made.rows[0]);
      const current = await client.query<{ window_id: string; ends_at: Date; sent: number }>(
        'SELECT window_id, ends_at, sent FROM digest_windows WHERE user_id = $1 AND ends_at > clock_timestamp()',
        [userId],
      );
      let window = current.rows[0];
      if (!window) {
        const opened = await client.query<{ window_id: string; ends_at: Date; sent: number }>(
          `INSERT INTO digest_windows (user_id, window_id, ends_at, sent)
           VALUES ($1, $1 || ':' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint, clock_timestamp() + make_interval(secs => $2), 0)
           ON CONFLICT (user_id) DO UPDATE SET window_id = excluded.window_id, ends_at = excluded.ends_at, sent = 0
           RETURNING window_id, ends_at, sent`,
          [userId, settings.windowMinutes * 60],
        );
        window = opened.rows[0]!;
      }
      if (window.sent < settings.threshold) {
        await client.query('UPDATE digest_windows SET sent = sent + 1 WHERE user_id = $1', [userId]);
        await client.query('INSERT INTO digest_decisions (key, user_id) VALUES ($1, $2)', [key, userId]);
        return { send: true };
      }
      await client.query('INSERT INTO digest_decisions (key, user_id, window_id, ends_at, item) VALUES ($1, $2, $3, $4, $5)', [
        key,
        userId,
        window.window_id,
        window.ends_at,
        JSON.stringify(item),
      ]);
      return { send: false, windowId: window.window_id, endsAt: window.ends_at };
    });
  }

  /**
   * The emails held for a window and not yet sent in its digest, in the order they were held. Read
   * under the user's lock, so an email being held as the window ends is either in it or not held.
   */
  async held<T>(userId: string, windowId: string): Promise<HeldItem<T>[]> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`digest:${userId}`]);
      const { rows } = await client.query<{ key: string; item: T }>(
        'SELECT key, item FROM digest_decisions WHERE window_id = $1 AND digested_at IS NULL ORDER BY decided_at, key',
        [windowId],
      );
      return rows;
    });
  }

  /** Marks held emails as sent in their window's digest. */
  async markDigested(windowId: string, keys: string[]): Promise<void> {
    await this.pool.query('UPDATE digest_decisions SET digested_at = clock_timestamp() WHERE window_id = $1 AND key = ANY($2::text[])', [windowId, keys]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<R>(run: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await run(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

function decisionOf(row: { window_id: string | null; ends_at: Date | null }): Decision {
  return row.window_id === null || row.ends_at === null ? { send: true } : { send: false, windowId: row.window_id, endsAt: row.ends_at };
}
