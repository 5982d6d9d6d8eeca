// Attempt counters per key, shared by every auth node through the database, in fixed windows.
// An attempt is counted BEFORE the work it guards (a password check, a registration), in one
// atomic statement, so parallel attempts on one or several nodes cannot all read "under the limit".
// All window arithmetic is SQL's now() against TIMESTAMPTZ columns: no node clock, no time zone.
import { Prisma } from '../../generated/prisma/client.ts';
import type { Database } from './database.ts';

/** One key's count after an attempt was added, and the window it was added to. */
export interface CountedAttempt {
  key: string;
  /** Attempts in the window, this one included. */
  count: number;
  /** Start of the window the attempt was counted in (epoch ms): undoing it touches that window only. */
  windowStart: number;
  /** Seconds until that window ends, by the database's clock. */
  secondsLeft: number;
}

export class LoginThrottleStore {
  private readonly window: string;

  constructor(
    private readonly db: Database,
    windowMs: number,
  ) {
    this.window = `${windowMs} milliseconds`;
  }

  /**
   * Adds one attempt to each key in a single statement (a new window for a key whose window ended)
   * and returns the new counts. Keys are locked in sorted order, so concurrent calls cannot deadlock.
   */
  async attempt(keys: readonly string[]): Promise<CountedAttempt[]> {
    const sorted = [...new Set(keys)].sort();
    const values = Prisma.join(sorted.map((key) => Prisma.sql`(${key}, 1, now())`));
    const rows = await this.db.$queryRaw<{ key: string; failures: number; window_ms: bigint | number; seconds_left: number }[]>`
      INSERT INTO login_throttle (key, failures, window_start) VALUES ${values}
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN login_throttle.window_start <= now() - ${this.window}::interval THEN 1 ELSE login_throttle.failures + 1 END,
        window_start = CASE WHEN login_throttle.window_start <= now() - ${this.window}::interval THEN now() ELSE login_throttle.window_start END
      RETURNING key, failures, (EXTRACT(EPOCH FROM window_start) * 1000)::bigint AS window_ms,
        GREATEST(0, EXTRACT(EPOCH FROM (window_start + ${this.window}::interval - now())))::float8 AS seconds_left`;
    return rows.map((row) => ({ key: row.key, count: row.failures, windowStart: Number(row.window_ms), secondsLeft: Number(row.seconds_left) }));
  }

  /** Takes back attempts counted by `attempt`, in the window they were counted in (a newer window is left alone). */
  async undo(attempts: readonly CountedAttempt[]): Promise<void> {
    if (attempts.length === 0) return;
    const sorted = [...attempts].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const conditions = Prisma.join(
      sorted.map((attempt) => Prisma.sql`(key = ${attempt.key} AND (EXTRACT(EPOCH FROM window_start) * 1000)::bigint = ${String(attempt.windowStart)}::bigint)`),
      ' OR ',
    );
    await this.db.$executeRaw`UPDATE login_throttle SET failures = GREATEST(failures - 1, 0) WHERE ${conditions}`;
  }

  async clear(key: string): Promise<void> {
    await this.db.$executeRaw`DELETE FROM login_throttle WHERE key = ${key}`;
  }

  /** Deletes the rows whose window has ended (they count nothing any more); returns how many. */
  async sweep(): Promise<number> {
    return this.db.$executeRaw`DELETE FROM login_throttle WHERE window_start <= now() - ${this.window}::interval`;
  }
}
