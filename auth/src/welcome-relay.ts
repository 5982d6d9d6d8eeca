// Hands owed welcome emails to the mailer: the outbox rows written with each registration are
// posted to the mailer's API (tag `api`) and deleted once it has queued them. Run at once after a
// registration and every WELCOME_RELAY_INTERVAL_MS for what a crash or a mailer outage left behind.
// Rows are claimed with SKIP LOCKED, so auth nodes share the work; the mailer keeps one job per
// user (its idempotency key), so a row posted twice after a crash is still one email.
import type { FastifyBaseLogger } from 'fastify';
import { hasErrorCode } from '@notify/lib';
import type { mailerContract, ServiceClient } from '@notify/lib/contracts';
import type { Database } from './store/database.ts';

const BATCH = 20;

export class WelcomeRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: { db: Database; mailer: ServiceClient<typeof mailerContract.routes>; log: FastifyBaseLogger; intervalMs: number; timeoutMs: number },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.d.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Relays soon; a kick during a run makes one more run after it. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => this.d.log.warn({ err: error }, 'welcome emails not relayed; will retry'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the run in progress (tests and close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.again = false;
    await this.idle();
  }

  /** Posts batches until the outbox is empty or the mailer fails. */
  private async drain(): Promise<void> {
    for (;;) {
      const { claimed, failure } = await this.batch();
      if (failure) throw failure;
      if (claimed < BATCH) return;
    }
  }

  /**
   * One batch in one transaction: the claimed rows stay locked until they are sent (deleted) or the
   * first failure, which is recorded on its row and ends the batch (the mailer is likely down); a
   * row the mailer refuses is recorded and skipped, and rows are taken fewest attempts first.
   */
  private async batch(): Promise<{ claimed: number; failure?: Error }> {
    return this.d.db.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<{ user_id: string; email: string; name: string }[]>`
          SELECT o.user_id, u.email, u.name FROM welcome_outbox o JOIN users u ON u.id = o.user_id
           ORDER BY o.attempts, o.created_at LIMIT ${BATCH} FOR UPDATE OF o SKIP LOCKED`;
        for (const row of rows) {
          try {
            await this.d.mailer.welcome({ body: { userId: row.user_id, email: row.email, name: row.name } });
          } catch (error) {
            const failure = error as Error;
            await tx.welcomeOutbox.update({ where: { userId: row.user_id }, data: { attempts: { increment: 1 }, lastError: String(failure.message).slice(0, 500) } });
            // A refusal concerns this row only (it goes to the back of the line); anything else
            // (the mailer down) ends the batch.
            if (hasErrorCode(failure) && failure.code === 'INVALID_ARGUMENT') continue;
            return { claimed: rows.length, failure };
          }
          await tx.welcomeOutbox.delete({ where: { userId: row.user_id } });
        }
        return { claimed: rows.length };
      },
      { timeout: (BATCH + 1) * this.d.timeoutMs },
    );
  }
}
