// Failed-login counters per key, shared by every auth node through the database, in fixed windows.
import type { Database } from './database.ts';

export class LoginThrottleStore {
  constructor(
    private readonly db: Database,
    private readonly windowMs: number,
  ) {}

  /** Failures counted for `key` in its current window, and when that window ends (epoch ms). */
  async current(key: string): Promise<{ failures: number; resetsAt: number }> {
    const row = await this.db.loginThrottle.findUnique({ where: { key } });
    if (!row || row.windowStart.getTime() + this.windowMs <= Date.now()) return { failures: 0, resetsAt: Date.now() };
    return { failures: row.failures, resetsAt: row.windowStart.getTime() + this.windowMs };
  }

  /** Adds one failure atomically (a new window when the old one ended); returns the new count. */
  async fail(key: string): Promise<number> {
    const window = `${this.windowMs} milliseconds`;
    const rows = await this.db.$queryRaw<{ failures: number }[]>`
      INSERT INTO login_throttle (key, failures, window_start) VALUES (${key}, 1, now())
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN login_throttle.window_start <= now() - ${window}::interval THEN 1 ELSE login_throttle.failures + 1 END,
        window_start = CASE WHEN login_throttle.window_start <= now() - ${window}::interval THEN now() ELSE login_throttle.window_start END
      RETURNING failures`;
    return rows[0]?.failures ?? 1;
  }

  async clear(key: string): Promise<void> {
    await this.db.loginThrottle.deleteMany({ where: { key } });
  }
}
