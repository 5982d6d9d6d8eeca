// The participant half of two-phase commit, shared by every participant service: the durable
// state table, idempotent prepare/commit/rollback, and the sweeper that asks the coordinator about
// transactions held prepared past their timeout. A service supplies only its domain actions.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { request } from 'undici';
import type { z } from 'zod';
import { createError, hasErrorCode } from '../errors.ts';
import { isUniqueViolation } from '../db/database-admin.ts';
import type { Upstream } from '../balancing/upstream.ts';
import { originOf } from '../http/http-pools.ts';
import { coordinatorAnswer, PARTICIPANT_TABLE, type ParticipantState, type ParticipantTransaction, type PrepareRequest } from './protocol.ts';
import type { TwoPhaseMetrics } from './metrics.ts';

/** The SQL a participant needs from a client or a transaction (Prisma's clients have both). */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export interface ActionContext {
  txId: string;
}

/** One domain action: how to stage, apply and discard it inside the participant's transaction. */
export interface ParticipantAction<Tx extends SqlClient, P> {
  payload: z.ZodType<P>;
  /** Stores the change durably but invisibly (locked). Throw a contract error to vote no. */
  prepare(tx: Tx, payload: P, context: ActionContext): Promise<void>;
  /** Makes the prepared change visible. Runs once per transaction. */
  commit(tx: Tx, payload: P, context: ActionContext): Promise<void>;
  /** Discards the prepared change. Runs once per transaction. */
  rollback(tx: Tx, payload: P, context: ActionContext): Promise<void>;
}

/** Lets TypeScript infer an action's payload type from its schema. */
export function defineAction<Tx extends SqlClient, P>(action: ParticipantAction<Tx, P>): ParticipantAction<Tx, P> {
  return action;
}

export interface ParticipantOptions<Tx extends SqlClient> {
  /** Runs `fn` in one database transaction. */
  transaction: <R>(fn: (tx: Tx) => Promise<R>) => Promise<R>;
  /** For reads outside a transaction (state look-ups, the sweeper). */
  db: SqlClient;
  actions: Record<string, ParticipantAction<Tx, unknown>>;
  /** The coordinator's instances (the gateway), asked about transactions past their timeout. */
  coordinator: () => Upstream;
  metrics: TwoPhaseMetrics;
  log: FastifyBaseLogger;
  /** How often (ms) to look for transactions past their timeout. */
  sweepIntervalMs: number;
  /** Longest (ms) a question to the coordinator may take. */
  coordinatorTimeoutMs: number;
  /** How long (ms) decided transactions are kept (for idempotent replies and late prepares). */
  retentionMs: number;
}

/** 60 s: how often the sweeper purges decided transactions past the retention. */
const PURGE_EVERY_MS = 60_000;

interface Row {
  tx_id: string;
  request_id: string;
  action: string | null;
  payload: unknown;
  state: ParticipantState;
  prepared_at: Date;
  decided_at: Date | null;
  reason: string | null;
}

const COLUMNS = 'tx_id, request_id, action, payload, state, prepared_at, decided_at, reason';

function toTransaction(row: Row): ParticipantTransaction {
  return {
    txId: row.tx_id,
    requestId: row.request_id,
    action: row.action,
    state: row.state,
    preparedAt: row.prepared_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    reason: row.reason,
  };
}

export class Participant<Tx extends SqlClient> {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  private lastPurge = 0;

  constructor(private readonly o: ParticipantOptions<Tx>) {}

  /**
   * Phase 1. Votes yes (resolving) once the change is durably stored and locked; votes no by
   * throwing a contract error, after recording the transaction as aborted so that neither a
   * repeated prepare nor a commit can succeed later. A repeated prepare of a live transaction is yes again.
   */
  async prepare(request: PrepareRequest): Promise<{ vote: 'yes'; requestId: string }> {
    const action = this.o.actions[request.action];
    if (!action) {
      this.o.metrics.prepares.inc({ action: 'unknown', vote: 'no' });
      throw createError({ code: 'INVALID_ARGUMENT', message: `unknown action "${request.action}"`, details: { known: Object.keys(this.o.actions) } });
    }
    const parsed = action.payload.safeParse(request.payload);
    if (!parsed.success) {
      this.o.metrics.prepares.inc({ action: request.action, vote: 'no' });
      const issues = parsed.error.issues.map((issue) => ({ path: ['payload', ...issue.path.map(String)].join('.'), message: issue.message }));
      throw createError({ code: 'INVALID_ARGUMENT', message: issues.map((i) => `${i.path}: ${i.message}`).join('; '), details: { issues } });
    }
    const context = { txId: request.txId };
    try {
      const requestId = await this.o.transaction(async (tx) => {
        const claimed = await tx.$queryRawUnsafe<{ request_id: string }[]>(
          `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, action, payload, state, timeout_ms)
           VALUES ($1, $2, $3, $4::jsonb, 'prepared', $5)
           ON CONFLICT (tx_id) DO NOTHING RETURNING request_id`,
          request.txId,
          randomUUID(),
          request.action,
          JSON.stringify(parsed.data),
          request.timeoutMs,
        );
        if (claimed[0]) {
          await action.prepare(tx, parsed.data, context);
          return claimed[0].request_id;
        }
        // The same transaction again (a retried prepare): answer as the first time did, if it is
        // the same request; a different action or payload under one txId is a conflict.
        const [existing] = await tx.$queryRawUnsafe<(Row & { same: boolean })[]>(
          `SELECT ${COLUMNS}, (action = $2 AND payload = $3::jsonb) AS same FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1`,
          request.txId,
          request.action,
          JSON.stringify(parsed.data),
        );
        if (!existing || existing.state === 'aborted' || !existing.same) {
          const why = !existing ? 'unknown' : existing.state === 'aborted' ? 'aborted' : 'prepared with a different request';
          throw createError({ code: 'CONFLICT', message: `transaction ${request.txId} is ${why}`, details: { txId: request.txId } });
        }
        return existing.request_id;
      });
      this.o.metrics.prepares.inc({ action: request.action, vote: 'yes' });
      return { vote: 'yes', requestId };
    } catch (error) {
      this.o.metrics.prepares.inc({ action: request.action, vote: 'no' });
      await this.tombstone(request.txId, request.action, describe(error));
      // A unique violation while staging means the change collides with one already stored.
      if (isUniqueViolation(error)) {
        throw createError({ code: 'CONFLICT', message: 'the change collides with one already stored', details: { txId: request.txId }, cause: error });
      }
      throw error;
    }
  }

  /** Phase 2, commit. Idempotent; after a rollback it is CONFLICT and changes nothing. */
  async commit(txId: string): Promise<ParticipantTransaction> {
    return this.decide(txId, 'committed');
  }

  /** Phase 2, abort. Idempotent; an unknown transaction is acknowledged (presumed abort) and remembered as aborted. */
  async rollback(txId: string): Promise<ParticipantTransaction> {
    return this.decide(txId, 'aborted');
  }

  async state(txId: string): Promise<ParticipantTransaction | undefined> {
    const [row] = await this.o.db.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1`, txId);
    return row ? toTransaction(row) : undefined;
  }

  /** The transaction id behind a seed-route request_id. */
  async txIdOf(requestId: string): Promise<string> {
    const [row] = await this.o.db.$queryRawUnsafe<{ tx_id: string }[]>(`SELECT tx_id FROM ${PARTICIPANT_TABLE} WHERE request_id = $1`, requestId);
    if (!row) throw createError({ code: 'NOT_FOUND', message: 'no transaction with this request_id', details: { request_id: requestId } });
    return row.tx_id;
  }

  private async decide(txId: string, outcome: 'committed' | 'aborted'): Promise<ParticipantTransaction> {
    let decided: { row: Row; applied: boolean };
    try {
      decided = await this.o.transaction(async (tx) => {
        const [current] = await tx.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1 FOR UPDATE`, txId);
        if (current) return this.decideRow(tx, txId, outcome, current);
        if (outcome === 'committed') throw createError({ code: 'NOT_FOUND', message: `no prepared transaction ${txId}`, details: { txId } });
        // Presumed abort: remember it, so a prepare that arrives late votes no.
        const [inserted] = await tx.$queryRawUnsafe<Row[]>(
          `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, state, timeout_ms, decided_at, reason)
           VALUES ($1, $2, 'aborted', 0, now(), 'rolled back before any prepare')
           ON CONFLICT (tx_id) DO NOTHING RETURNING ${COLUMNS}`,
          txId,
          randomUUID(),
        );
        if (inserted) return { row: inserted, applied: false };
        // A prepare claimed it meanwhile and has committed its row: decide on that.
        const [claimed] = await tx.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1 FOR UPDATE`, txId);
        return this.decideRow(tx, txId, outcome, claimed!);
      });
    } catch (error) {
      if (!hasErrorCode(error) || error.code === 'INTERNAL' || error.code === 'UNAVAILABLE') this.o.metrics.failures.inc({ outcome });
      throw error;
    }
    // Counted once the database has committed the decision, not before.
    if (decided.applied) (outcome === 'committed' ? this.o.metrics.commits : this.o.metrics.rollbacks).inc({ action: decided.row.action ?? 'unknown' });
    return toTransaction(decided.row);
  }

  private async decideRow(tx: Tx, txId: string, outcome: 'committed' | 'aborted', current: Row): Promise<{ row: Row; applied: boolean }> {
    if (current.state === outcome) return { row: current, applied: false };
    if (current.state !== 'prepared') {
      throw createError({
        code: 'CONFLICT',
        message: `transaction ${txId} is already ${current.state}`,
        details: { txId, state: current.state },
      });
    }
    const action = current.action ? this.o.actions[current.action] : undefined;
    if (!action) throw createError({ code: 'INTERNAL', message: `transaction ${txId} has unknown action ${current.action}` });
    const context = { txId };
    // The state first, the action last: the rows the action locks (shared ones, such as a user's
    // counter) stay locked only until the commit that follows it.
    const [updated] = await tx.$queryRawUnsafe<Row[]>(
      `UPDATE ${PARTICIPANT_TABLE} SET state = $2, decided_at = now() WHERE tx_id = $1 RETURNING ${COLUMNS}`,
      txId,
      outcome,
    );
    if (outcome === 'committed') await action.commit(tx, current.payload, context);
    else await action.rollback(tx, current.payload, context);
    return { row: updated!, applied: true };
  }

  /** Records a no vote; never throws (the vote itself is what the caller needs). */
  private async tombstone(txId: string, action: string, reason: string): Promise<void> {
    try {
      await this.o.db.$executeRawUnsafe(
        `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, action, state, timeout_ms, decided_at, reason)
         VALUES ($1, $2, $3, 'aborted', 0, now(), $4) ON CONFLICT (tx_id) DO NOTHING`,
        txId,
        randomUUID(),
        action,
        reason.slice(0, 500),
      );
    } catch (error) {
      // The vote is no either way; without the record a late duplicate prepare could vote yes,
      // which the coordinator (having decided abort) then rolls back.
      this.o.log.error({ err: error, txId }, 'could not record a no vote');
    }
  }

  /** Starts the sweeper: every `sweepIntervalMs`, resolves transactions prepared past their timeout. */
  startSweeper(): void {
    if (this.sweeper) return;
    this.stopped = false;
    this.sweeper = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(() => undefined, (error: unknown) => this.o.log.warn({ err: error }, 'sweep failed; next one in a moment'))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.o.sweepIntervalMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping;
  }

  /**
   * One sweep; returns how many transactions it resolved. The least recently asked come first
   * (`checked_at`), so transactions the coordinator keeps answering `pending` about cannot starve
   * the others. Decided transactions older than the retention are purged.
   */
  async sweep(): Promise<number> {
    const overdue = await this.o.db.$queryRawUnsafe<{ tx_id: string }[]>(
      `SELECT tx_id FROM ${PARTICIPANT_TABLE}
       WHERE state = 'prepared' AND prepared_at + timeout_ms * interval '1 millisecond' < now()
       ORDER BY checked_at NULLS FIRST, prepared_at LIMIT 100`,
    );
    let resolved = 0;
    for (const { tx_id: overdueTx } of overdue) {
      if (this.stopped) break;
      try {
        const outcome = await this.askCoordinator(overdueTx);
        if (outcome === 'pending') {
          await this.markChecked(overdueTx);
          continue;
        }
        if (outcome === 'committed') await this.commit(overdueTx);
        else await this.rollback(overdueTx);
        this.o.metrics.resolved.inc({ outcome });
        this.o.log.info({ txId: overdueTx, outcome }, 'in-doubt transaction resolved with the coordinator');
        resolved += 1;
      } catch (error) {
        // No coordinator reachable: stay prepared (deciding alone could contradict its decision).
        await this.markChecked(overdueTx);
        this.o.log.warn({ err: error, txId: overdueTx }, 'in-doubt transaction not resolved yet');
      }
    }
    if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      await this.o.db.$executeRawUnsafe(
        `DELETE FROM ${PARTICIPANT_TABLE} WHERE state <> 'prepared' AND decided_at < now() - $1 * interval '1 millisecond'`,
        this.o.retentionMs,
      );
    }
    return resolved;
  }

  private async markChecked(id: string): Promise<void> {
    await this.o.db.$executeRawUnsafe(`UPDATE ${PARTICIPANT_TABLE} SET checked_at = now() WHERE tx_id = $1`, id);
  }

  /** The coordinator's decision; a 404 (no record) means abort. */
  private async askCoordinator(id: string): Promise<'pending' | 'committed' | 'aborted'> {
    const instance = this.o.coordinator().pick();
    // undici, not fetch: fetch refuses "bad ports", and the coordinator may sit on one.
    const answered = await request(`${originOf(instance)}/api/2pc/${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(this.o.coordinatorTimeoutMs) });
    const body = (await answered.body.json().catch(() => undefined)) as { error?: { details?: { txId?: unknown } } } | undefined;
    const status = answered.statusCode;
    // Only the coordinator saying it has no record of this very transaction means abort; any other
    // 404 (a wrong route, a proxy) is no answer at all.
    if (status === 404 && body?.error?.details?.txId === id) return 'aborted';
    if (status < 200 || status > 299) throw createError({ code: 'UNAVAILABLE', message: `coordinator answered ${status}` });
    const answer = coordinatorAnswer.parse(body);
    if (answer.txId !== id) throw createError({ code: 'UNAVAILABLE', message: `coordinator answered about ${answer.txId}, not ${id}` });
    return answer.state;
  }

  /** In-doubt figures for metrics: prepared transactions and the age (s) of the oldest. */
  async inDoubt(): Promise<{ count: number; oldestSeconds: number }> {
    const [row] = await this.o.db.$queryRawUnsafe<{ count: number; oldest: number | null }[]>(
      `SELECT count(*)::int AS count, EXTRACT(EPOCH FROM now() - min(prepared_at))::float8 AS oldest
       FROM ${PARTICIPANT_TABLE} WHERE state = 'prepared'`,
    );
    return { count: row?.count ?? 0, oldestSeconds: row?.oldest ?? 0 };
  }
}

function describe(error: unknown): string {
  return hasErrorCode(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}
