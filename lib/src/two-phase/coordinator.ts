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
  onComplete?: (txId: string, outcome: 'committed' | 'aborted', branches: Branch[]) => Promise<void> | void;
  /**
   * Work that must happen after phase 2 and must not be lost (the gateway hands committed
   * notifications to the mailer here). Retried with phase 2's backoff until it resolves; the
   * transaction is marked complete only then, so a crash meanwhile runs it again from `recover()`.
   * It must therefore be safe to repeat.
   */
  followUp?: (txId: string, outcome: 'committed' | 'aborted', branches: Branch[]) => Promise<void>;
}

export class Coordinator {
  /** Transactions whose phase 2 (or follow-up) is under way: `phase2` resolves once phase 2 is done. */
  private readonly finishing = new Map<string, { phase2: Promise<boolean>; all: Promise<boolean> }>();
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly metrics: CoordinatorMetrics;

  constructor(private readonly o: CoordinatorOptions) {
    this.metrics = coordinatorMetrics(o.metrics);
    this.metrics.live.add(this.finishing);
  }

  /**
   * Runs one transaction; resolves once the decision is durable (phase 2 goes on in the background).
   * `done` resolves true once every participant acknowledged phase 2, false if the coordinator
   * stopped first (the next start's `recover()` finishes it).
   */
  async run(branches: Branch[], txId = randomUUID()): Promise<{ txId: string; committed: boolean; votes: Vote[]; done: Promise<boolean> }> {
    if (branches.length === 0) throw createError({ code: 'INVALID_ARGUMENT', message: 'a transaction needs at least one branch' });
    const stop = this.metrics.duration.startTimer();
    // Recorded before any prepare: a participant asking meanwhile hears `pending`, not "no record".
    await this.o.db.$executeRawUnsafe(
      `INSERT INTO ${COORDINATOR_TABLE} (tx_id, state, branches) VALUES ($1, 'pending', $2::jsonb)`,
      txId,
      JSON.stringify(branches),
    );
    const votes = await Promise.all(branches.map((branch) => this.prepare(txId, branch)));
    const committed = votes.every((vote) => vote.vote === 'yes');
    const reason = committed ? null : votes.filter((vote) => vote.vote === 'no').map((vote) => `${vote.service}: ${vote.error?.code ?? 'no'}`).join(', ');
    await this.o.db.$executeRawUnsafe(
      `UPDATE ${COORDINATOR_TABLE} SET state = $2, decided_at = now(), reason = $3 WHERE tx_id = $1`,
      txId,
      committed ? 'committed' : 'aborted',
      reason,
    );
    stop();
    this.metrics.outcomes.inc({ outcome: committed ? 'committed' : 'aborted' });
    await this.o.afterDecision?.(txId);
    const done = this.finish(txId, committed ? 'committed' : 'aborted', branches);
    return { txId, committed, votes, done };
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
  private finish(txId: string, outcome: 'committed' | 'aborted', branches: Branch[]): Promise<boolean> {
    const existing = this.finishing.get(txId);
    if (existing) return existing.phase2;
    let phase2Done!: (done: boolean) => void;
    const phase2 = new Promise<boolean>((resolve) => (phase2Done = resolve));
    const markComplete = () => this.o.db.$executeRawUnsafe(`UPDATE ${COORDINATOR_TABLE} SET completed_at = now() WHERE tx_id = $1`, txId);
    const all = (async () => {
      await Promise.all(branches.map((branch) => this.decideBranch(txId, outcome, branch)));
      if (this.stopped) return false;
      void this.completed(txId, outcome, branches);
      const followUp = this.o.followUp;
      if (!followUp) {
        await markComplete();
        phase2Done(true);
        return true;
      }
      phase2Done(true);
      if (!(await this.untilDone(() => followUp(txId, outcome, branches), { txId, step: 'follow-up', outcome }))) return false;
      await markComplete();
      return true;
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

  private async completed(txId: string, outcome: 'committed' | 'aborted', branches: Branch[]): Promise<void> {
    try {
      await this.o.onComplete?.(txId, outcome, branches);
    } catch (error) {
      this.o.log.error({ err: error, txId }, 'onComplete failed after phase 2');
    }
  }

  private async decideBranch(txId: string, outcome: 'committed' | 'aborted', branch: Branch): Promise<void> {
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

  /** Finishes every transaction left in doubt: decided ones get phase 2 again; undecided ones abort. */
  async recover(): Promise<number> {
    const open = await this.o.db.$queryRawUnsafe<{ tx_id: string; state: 'pending' | 'committed' | 'aborted'; branches: Branch[] }[]>(
      `SELECT tx_id, state, branches FROM ${COORDINATOR_TABLE} WHERE completed_at IS NULL`,
    );
    for (const row of open) {
      let outcome = row.state;
      if (outcome === 'pending') {
        // No decision was written: nobody can have been told to commit, so abort (presumed abort).
        await this.o.db.$executeRawUnsafe(
          `UPDATE ${COORDINATOR_TABLE} SET state = 'aborted', decided_at = now(), reason = 'coordinator restarted before deciding' WHERE tx_id = $1 AND state = 'pending'`,
          row.tx_id,
        );
        outcome = 'aborted';
      }
      this.o.log.info({ txId: row.tx_id, outcome }, 'finishing a transaction left in doubt');
      void this.finish(row.tx_id, outcome, row.branches);
    }
    return open.length;
  }

  /** What participants ask: `pending`, or the durable decision; undefined when there is no record. */
  async state(txId: string): Promise<'pending' | 'committed' | 'aborted' | undefined> {
    const [row] = await this.o.db.$queryRawUnsafe<{ state: 'pending' | 'committed' | 'aborted' }[]>(`SELECT state FROM ${COORDINATOR_TABLE} WHERE tx_id = $1`, txId);
    return row?.state;
  }

  /** Stops retrying phase 2 (what is left is finished by `recover` at the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
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
