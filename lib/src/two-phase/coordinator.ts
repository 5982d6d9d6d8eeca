// The coordinator half of two-phase commit: runs one domain action as a transaction across
// participants (prepares in parallel, each with a deadline), writes its decision durably before
// phase 2, retries phase 2 until every participant acknowledges, finishes what a crash left in
// doubt, and answers participants that ask about a transaction. Generic: an action is a list of
// branches (service, action, payload), so a new one needs no change here.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createError, hasErrorCode } from '../errors.ts';
import type { UpstreamClient } from '../balancing/upstream-client.ts';
import { METRIC } from '../metrics/names.ts';
import { perRegistry } from '../metrics/per-registry.ts';
import type { SqlClient } from './participant.ts';

export const COORDINATOR_TABLE = 'coordinator_transactions';

/** The coordinator's log, exactly as the coordinator service's migration creates it. */
export const COORDINATOR_TABLE_DDL = `CREATE TABLE "coordinator_transactions" (
    "tx_id" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "branches" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "decided_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "reason" TEXT,

    CONSTRAINT "coordinator_transactions_pkey" PRIMARY KEY ("tx_id"),
    CONSTRAINT "coordinator_transactions_state_check" CHECK ("state" IN ('pending', 'committed', 'aborted'))
);
CREATE INDEX "coordinator_transactions_open_idx" ON "coordinator_transactions"("state") WHERE "completed_at" IS NULL;`;

/**
 * Who finishes an open transaction: the instance that started it (`owner`, its instance id) while
 * its lease runs, renewed as long as it lives; any coordinator once the lease has passed.
 */
export const COORDINATOR_LEASE_DDL = `ALTER TABLE "coordinator_transactions" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '',
ADD COLUMN "lease_until" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;`;

type Outcome = 'committed' | 'aborted';

export interface Branch {
  /** Discovery name of the participant service. */
  service: string;
  action: string;
  payload: unknown;
}

export interface Vote {
  service: string;
  vote: 'yes' | 'no';
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

export interface CoordinatorOptions {
  db: SqlClient;
  /**
   * This coordinator's name in the log (the instance id): a restarted instance with the same name
   * takes its open transactions back at once; others wait for their lease to pass.
   */
  owner: () => string;
  /** How long (ms) an open transaction stays its owner's without renewal. Default 15 000. */
  leaseMs?: number;
  /**
   * How often (ms) open transactions are looked for: this instance's own that nothing here is
   * finishing (its database was down), and any whose lease has passed. Default 5 000.
   */
  sweepIntervalMs?: number;
  /** How long (ms) writing the decision is retried (database down) before the caller hears TIMEOUT. Default 10 000. */
  decisionWriteMs?: number;
  /** The upstream client of each participant service. */
  participant: (service: string) => UpstreamClient;
  log: FastifyBaseLogger;
  metrics: Registry;
  /** Deadline (ms) of each prepare; also the participants' hold time before they ask us. */
  prepareTimeoutMs: number;
  /** Deadline (ms) of one phase-2 call; failed calls are retried with backoff until acknowledged. */
  decisionTimeoutMs: number;
  /** Longest pause (ms) between phase-2 retries. */
  retryMaxMs: number;
  /** Test seam: runs after the decision is durable and before phase 2 (to simulate a crash there). */
  afterDecision?: (txId: string) => Promise<void> | void;
  /**
   * Runs once every participant acknowledged phase 2, for transactions run here and recovered
   * alike (the gateway pushes committed notifications from here). Not awaited: a failure is logged.
   * A crash before the transaction is marked complete runs it again after recovery.
   */
  onComplete?: (txId: string, outcome: Outcome, branches: Branch[]) => Promise<void> | void;
  /**
   * Work that must happen after phase 2 and must not be lost (the gateway hands committed
   * notifications to the mailer here). Retried with phase 2's backoff until it resolves; the
   * transaction is marked complete only then, so a crash meanwhile runs it again from `recover()`.
   * It must therefore be safe to repeat.
   */
  followUp?: (txId: string, outcome: Outcome, branches: Branch[]) => Promise<void>;
}

export class Coordinator {
  /** Transactions whose phase 2 (or follow-up) is under way: `phase2` resolves once phase 2 is done. */
  private readonly finishing = new Map<string, { phase2: Promise<boolean>; all: Promise<boolean> }>();
  /** Transactions in their first phase here (logged as pending, not decided yet). */
  private readonly running = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly metrics: CoordinatorMetrics;

  constructor(private readonly o: CoordinatorOptions) {
    this.metrics = coordinatorMetrics(o.metrics);
    this.metrics.live.add(this.finishing);
  }

  private get leaseSeconds(): number {
    return (this.o.leaseMs ?? 15_000) / 1_000;
  }

  /**
   * Runs one transaction; resolves once the decision is durable (phase 2 goes on in the background).
   * `done` resolves true once every participant acknowledged phase 2, false if the coordinator
   * stopped first (the next start's `recover()` finishes it).
   */
  async run(branches: Branch[], txId = randomUUID()): Promise<{ txId: string; committed: boolean; votes: Vote[]; done: Promise<boolean> }> {
    if (branches.length === 0) throw createError({ code: 'INVALID_ARGUMENT', message: 'a transaction needs at least one branch' });
    const stop = this.metrics.duration.startTimer();
    // Marked as running here before it exists in the log, so this instance's sweep leaves it alone.
    this.running.add(txId);
    try {
      // Recorded before any prepare: a participant asking meanwhile hears `pending`, not "no record".
      await this.o.db.$executeRawUnsafe(
        `INSERT INTO ${COORDINATOR_TABLE} (tx_id, state, branches, owner, lease_until) VALUES ($1, 'pending', $2::jsonb, $3, now() + make_interval(secs => $4))`,
        txId,
        JSON.stringify(branches),
        this.o.owner(),
        this.leaseSeconds,
      );
      let votes = await Promise.all(branches.map((branch) => this.prepare(txId, branch)));
      const wanted: Outcome = votes.every((vote) => vote.vote === 'yes') ? 'committed' : 'aborted';
      const reason = wanted === 'committed' ? null : votes.filter((vote) => vote.vote === 'no').map((vote) => `${vote.service}: ${vote.error?.code ?? 'no'}`).join(', ');
      const outcome = await this.decide(txId, wanted, reason);
      if (outcome !== wanted) {
        // Another coordinator found this transaction undecided past its lease and aborted it.
        votes = [...votes, { service: 'coordinator', vote: 'no', error: { code: 'UNAVAILABLE', message: 'the transaction was aborted before it could be decided; try again' } }];
      }
      stop();
      this.metrics.outcomes.inc({ outcome });
      await this.o.afterDecision?.(txId);
      const done = this.finish(txId, outcome, branches);
      return { txId, committed: outcome === 'committed', votes, done };
    } finally {
      this.running.delete(txId);
    }
  }

  /**
   * Writes the decision unless one is already stored, and returns the stored one: only a pending
   * transaction is decided, so a coordinator that took it over and aborted it wins over a late
   * commit. While the database cannot be reached the write is retried for `decisionWriteMs`; then
   * the caller hears TIMEOUT (the outcome is not known yet) and the sweep finishes the transaction.
   */
  private async decide(txId: string, wanted: Outcome, reason: string | null): Promise<Outcome> {
    const deadline = Date.now() + (this.o.decisionWriteMs ?? 10_000);
    for (let tries = 0; ; tries += 1) {
      try {
        const rows = await this.o.db.$queryRawUnsafe<{ state: Outcome }[]>(
          `WITH decided AS (UPDATE ${COORDINATOR_TABLE} SET state = $2, decided_at = now(), reason = $3 WHERE tx_id = $1 AND state = 'pending' RETURNING state)
           SELECT state FROM decided UNION ALL SELECT state FROM ${COORDINATOR_TABLE} WHERE tx_id = $1 AND NOT EXISTS (SELECT 1 FROM decided)`,
          txId,
          wanted,
          reason,
        );
        const stored = rows[0]?.state;
        if (stored === 'committed' || stored === 'aborted') return stored;
        throw new Error(`transaction ${txId} is missing from the coordinator's log`);
      } catch (error) {
        if (Date.now() >= deadline || this.stopped) {
          throw createError({
            code: 'TIMEOUT',
            message: 'the outcome is not known yet: the coordinator could not record its decision; the transaction finishes on its own (read it back before repeating it)',
            details: { txId },
            cause: error,
          });
        }
        const pause = Math.min(1_000, 50 * 2 ** Math.min(tries, 10));
        this.o.log.warn({ err: error, txId, retryInMs: pause }, 'could not record the decision; retrying');
        await sleep(pause * (0.5 + Math.random() * 0.5), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  private async prepare(txId: string, branch: Branch): Promise<Vote> {
    try {
      await this.o.participant(branch.service).request({
        method: 'POST',
        path: '/api/prepare_2pc',
        body: { txId, action: branch.action, payload: branch.payload, timeoutMs: this.o.prepareTimeoutMs },
        deadlineMs: this.o.prepareTimeoutMs,
        // The participant answers a repeated prepare as the first one, so another instance may retry it.
        idempotent: true,
      });
      return { service: branch.service, vote: 'yes' };
    } catch (error) {
      const described = hasErrorCode(error)
        ? { code: error.code, message: error.message, details: (error as { details?: Record<string, unknown> }).details ?? {} }
        : { code: 'INTERNAL', message: String(error) };
      return { service: branch.service, vote: 'no', error: described };
    }
  }

  /**
   * Phase 2 until every branch acknowledges, then the follow-up, then the transaction is marked
   * complete; one run per txId. Resolves once phase 2 is done (and, without a follow-up, recorded):
   * callers wait for what they can read back, not for the follow-up.
   */
  private finish(txId: string, outcome: Outcome, branches: Branch[]): Promise<boolean> {
    const existing = this.finishing.get(txId);
    if (existing) return existing.phase2;
    let phase2Done!: (done: boolean) => void;
    const phase2 = new Promise<boolean>((resolve) => (phase2Done = resolve));
    const markComplete = () => this.o.db.$executeRawUnsafe(`UPDATE ${COORDINATOR_TABLE} SET completed_at = now() WHERE tx_id = $1`, txId);
    const all = (async () => {
      await Promise.all(branches.map((branch) => this.decideBranch(txId, outcome, branch)));
      if (this.stopped) return false;
      void this.completed(txId, outcome, branches);
      // Marking it complete is retried here while the database is down: left to the sweep, the
      // transaction would be finished again and its onComplete (the gateway's pushes) run twice.
      const complete = () => this.untilDone(async () => void (await markComplete()), { txId, step: 'completion', outcome });
      const followUp = this.o.followUp;
      if (!followUp) {
        const marked = await complete();
        phase2Done(true);
        return marked;
      }
      phase2Done(true);
      if (!(await this.untilDone(() => followUp(txId, outcome, branches), { txId, step: 'follow-up', outcome }))) return false;
      return complete();
    })()
      .catch((error: unknown) => {
        // Left open in the log: the next start's recover() finishes it.
        this.o.log.error({ err: error, txId }, 'could not finish the transaction; recovery will');
        return false;
      })
      .then((done) => {
        phase2Done(done);
        return done;
      })
      .finally(() => this.finishing.delete(txId));
    this.finishing.set(txId, { phase2, all });
    return phase2;
  }

  private async completed(txId: string, outcome: Outcome, branches: Branch[]): Promise<void> {
    try {
      await this.o.onComplete?.(txId, outcome, branches);
    } catch (error) {
      this.o.log.error({ err: error, txId }, 'onComplete failed after phase 2');
    }
  }

  private async decideBranch(txId: string, outcome: Outcome, branch: Branch): Promise<void> {
    await this.untilDone(async () => {
      try {
        await this.o.participant(branch.service).request({
          method: outcome === 'committed' ? 'POST' : 'DELETE',
          path: outcome === 'committed' ? '/api/commit_2pc' : '/api/rollback_2pc',
          body: { txId },
          deadlineMs: this.o.decisionTimeoutMs,
          idempotent: true,
        });
      } catch (error) {
        // A commit the participant never prepared (it voted no) or a conflicting decision is final:
        // retrying cannot change it, and it means that branch never held the change.
        if (hasErrorCode(error) && (error.code === 'NOT_FOUND' || error.code === 'CONFLICT')) {
          this.o.log.error({ txId, service: branch.service, outcome, code: error.code }, 'participant refused the decision');
          return;
        }
        throw error;
      }
    }, { txId, step: 'phase 2', service: branch.service, outcome });
  }

  /** Runs `attempt` until it resolves, with capped exponential backoff; false if stopped first. */
  private async untilDone(attempt: () => Promise<void>, context: Record<string, string>): Promise<boolean> {
    for (let tries = 0; !this.stopped; tries += 1) {
      try {
        await attempt();
        return true;
      } catch (error) {
        const pause = Math.min(this.o.retryMaxMs, 50 * 2 ** Math.min(tries, 10));
        this.o.log.warn({ ...context, err: error, retryInMs: pause }, `${context.step} not done; retrying`);
        // stop() cuts the pause short.
        await sleep(pause * (0.8 + Math.random() * 0.4), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    return false;
  }

  /**
   * Finishes the transactions left in doubt (this instance's from before a restart, and any whose
   * owner's lease has passed): decided ones get phase 2 again, undecided ones abort (presumed
   * abort). Then keeps doing so every `sweepIntervalMs`, renewing this instance's leases, so work
   * left open while the database was down finishes once it is back, without a restart.
   */
  async recover(): Promise<number> {
    const found = await this.sweep();
    if (!this.sweeper && !this.stopped) {
      this.sweeper = setInterval(() => {
        this.sweep().catch((error: unknown) => this.o.log.warn({ err: error }, 'could not look for transactions left in doubt; trying again'));
      }, this.o.sweepIntervalMs ?? 5_000);
      this.sweeper.unref();
    }
    return found;
  }

  /** One pass of `recover()`; passes never overlap. */
  private sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    await this.o.db.$executeRawUnsafe(
      `UPDATE ${COORDINATOR_TABLE} SET lease_until = now() + make_interval(secs => $2) WHERE owner = $1 AND completed_at IS NULL`,
      this.o.owner(),
      this.leaseSeconds,
    );
    const busy = JSON.stringify([...this.running, ...this.finishing.keys()]);
    const open = await this.o.db.$queryRawUnsafe<{ tx_id: string; state: Outcome | 'pending'; branches: Branch[] }[]>(
      `UPDATE ${COORDINATOR_TABLE} SET owner = $1, lease_until = now() + make_interval(secs => $2)
       WHERE tx_id IN (
         SELECT tx_id FROM ${COORDINATOR_TABLE}
         WHERE completed_at IS NULL AND (owner = $1 OR lease_until < now())
           AND tx_id NOT IN (SELECT jsonb_array_elements_text($3::jsonb))
         ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED)
       RETURNING tx_id, state, branches`,
      this.o.owner(),
      this.leaseSeconds,
      busy,
    );
    for (const row of open) {
      if (this.stopped || this.finishing.has(row.tx_id) || this.running.has(row.tx_id)) continue;
      let outcome = row.state;
      if (outcome === 'pending') {
        // No decision was written: nobody can have been told to commit, so abort (presumed abort).
        outcome = await this.decide(row.tx_id, 'aborted', 'its coordinator stopped before deciding');
      }
      this.o.log.info({ txId: row.tx_id, outcome }, 'finishing a transaction left in doubt');
      void this.finish(row.tx_id, outcome, row.branches);
    }
    return open.length;
  }

  /** What participants ask: `pending`, or the durable decision; undefined when there is no record. */
  async state(txId: string): Promise<'pending' | Outcome | undefined> {
    const [row] = await this.o.db.$queryRawUnsafe<{ state: 'pending' | Outcome }[]>(`SELECT state FROM ${COORDINATOR_TABLE} WHERE tx_id = $1`, txId);
    return row?.state;
  }

  /** Stops retrying phase 2 (what is left is finished by `recover` at the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.stopping.abort();
    await this.sweeping?.catch(() => undefined);
    await Promise.allSettled([...this.finishing.values()].map((running) => running.all));
    this.metrics.live.delete(this.finishing);
  }
}

type CoordinatorMetrics = ReturnType<typeof createCoordinatorMetrics>;
/** One set of coordinator metrics per registry, whichever coordinator instance records into it. */
const coordinatorMetrics = perRegistry((registry: Registry) => createCoordinatorMetrics(registry));

function createCoordinatorMetrics(registry: Registry) {
  const live = new Set<Map<string, unknown>>();
  return {
    live,
    outcomes: new Counter({ name: METRIC.coordinatorTransactionsTotal, help: 'Transactions decided, by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
    duration: new Histogram({
      name: METRIC.coordinatorDuration,
      help: 'Seconds from the first prepare to the decision being durable',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inDoubt: new Gauge({
      name: METRIC.coordinatorInDoubt,
      help: 'Decided transactions whose phase 2 has not been acknowledged by every participant yet',
      registers: [registry],
      collect() {
        this.set([...live].reduce((sum, finishing) => sum + finishing.size, 0));
      },
    }),
  };
}
