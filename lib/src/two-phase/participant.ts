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
import type { ServiceIdentity } from '../identity/service-identity.ts';
import { originOf } from '../http/http-pools.ts';
import { toAppError } from '../service/error-handler.ts';
import { coordinatorAnswer, PARTICIPANT_TABLE, type BatchDecision, type BatchVote, type ItemError, type ParticipantState, type ParticipantTransaction, type PrepareRequest } from './protocol.ts';
import type { TwoPhaseMetrics } from './metrics.ts';
import type { ActionContract } from '../contracts/contract.ts';

/** The SQL a participant needs from a client or a transaction (Prisma's clients have both). */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export interface ActionContext {
  txId: string;
}

/** One transaction of a batch, as an action sees it. */
export interface ActionItem<P> {
  payload: P;
  context: ActionContext;
}

/**
 * One domain action: how to stage, apply and discard it inside the participant's transaction.
 * The `…Many` forms are optional set-based versions for a batch (one statement for many items);
 * without them, a batch runs the single forms one item after another, in one database transaction.
 */
export interface ParticipantAction<Tx extends SqlClient, P> {
  payload: z.ZodType<P>;
  /** Stores the change durably but invisibly (locked). Throw a contract error to vote no. */
  prepare(tx: Tx, payload: P, context: ActionContext): Promise<void>;
  /** Makes the prepared change visible. Runs once per transaction. */
  commit(tx: Tx, payload: P, context: ActionContext): Promise<void>;
  /** Discards the prepared change. Runs once per transaction. */
  rollback(tx: Tx, payload: P, context: ActionContext): Promise<void>;
  /**
   * Stages every item, or throws if any would be refused: the participant then stages the batch
   * again one item at a time (each in a savepoint), so that only the refused items vote no.
   */
  prepareMany?(tx: Tx, items: ActionItem<P>[]): Promise<void>;
  commitMany?(tx: Tx, items: ActionItem<P>[]): Promise<void>;
  rollbackMany?(tx: Tx, items: ActionItem<P>[]): Promise<void>;
  /**
   * The order items of a batch are staged in (the rows they lock, e.g. a topic id or a user id):
   * every batch locks shared rows in the same order, so concurrent batches queue, never deadlock.
   * Default: the transaction id.
   */
  lockKey?(payload: P): string;
}

/** A participant action implementing one action of a contract: its payload schema is the contract's. */
export interface ContractAction<Tx extends SqlClient, P> extends ParticipantAction<Tx, P> {
  readonly name: string;
}

/**
 * Implements an action of the participant's contract: the payload is validated with the schema the
 * coordinator's caller builds it against, and the action answers to the contract's name.
 */
export function defineAction<Tx extends SqlClient, A extends ActionContract>(contract: A, action: Omit<ParticipantAction<Tx, z.output<A['payload']>>, 'payload'>): ContractAction<Tx, z.output<A['payload']>> {
  return { ...action, name: contract.action, payload: contract.payload as z.ZodType<z.output<A['payload']>> };
}

/** A participant's actions by their contract names, for `attachParticipant`. */
export function participantActions<Tx extends SqlClient>(...actions: ContractAction<Tx, unknown>[]): Record<string, ParticipantAction<Tx, unknown>> {
  const byName: Record<string, ParticipantAction<Tx, unknown>> = {};
  for (const action of actions) {
    if (Object.hasOwn(byName, action.name)) throw new TypeError(`two actions are named ${action.name}`);
    byName[action.name] = action;
  }
  return byName;
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
  /** Signs the questions to the coordinator as this service. */
  identity: ServiceIdentity;
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
    const [vote] = await this.prepareBatch([request]);
    if (vote!.vote === 'yes') return { vote: 'yes', requestId: vote!.request_id };
    throw this.refusals.get(vote!) ?? createError({ code: 'INTERNAL', message: vote!.error.message });
  }

  /** The error behind each no vote (keyed by the vote), so `prepare()` rethrows the original one. */
  private readonly refusals = new WeakMap<BatchVote, unknown>();

  /**
   * Phase 1 for many transactions, in one database transaction (one fsync), items staged in lock
   * order. One vote per item, in the request's order: a refused item votes no alone (the batch is
   * then staged again one item at a time, each in a savepoint), the others are prepared.
   */
  async prepareBatch(requests: PrepareRequest[]): Promise<BatchVote[]> {
    const votes = new Map<string, BatchVote>();
    const no = (request: PrepareRequest, error: unknown) => {
      // A unique violation while staging means the change collides with one already stored.
      const refusal = isUniqueViolation(error)
        ? createError({ code: 'CONFLICT', message: 'the change collides with one already stored', details: { txId: request.txId }, cause: error })
        : error;
      const vote: BatchVote = { txId: request.txId, vote: 'no', error: itemError(refusal) };
      this.refusals.set(vote, refusal);
      votes.set(request.txId, vote);
    };
    const staged: Staged<Tx>[] = [];
    for (const request of requests) {
      try {
        staged.push({ request, ...this.validate(request) });
      } catch (error) {
        // Malformed: a no vote that writes nothing.
        no(request, error);
      }
    }
    staged.sort(lockOrder);
    if (staged.length) {
      try {
        const prepared = await this.o.transaction((tx) => (staged.length === 1 ? this.stageOne(tx, staged[0]!) : this.stageAll(tx, staged)));
        for (const item of staged) votes.set(item.request.txId, { txId: item.request.txId, vote: 'yes', request_id: prepared.get(item.request.txId)! });
      } catch (batchError) {
        if (staged.length === 1) no(staged[0]!.request, batchError);
        else {
          this.o.log.debug({ err: batchError, items: staged.length }, 'batch prepare refused as a whole; staging its items one by one');
          try {
            const outcomes = await this.o.transaction((tx) => this.stageOneByOne(tx, staged));
            for (const item of staged) {
              const outcome = outcomes.get(item.request.txId);
              if (typeof outcome === 'string') votes.set(item.request.txId, { txId: item.request.txId, vote: 'yes', request_id: outcome });
              else no(item.request, outcome);
            }
          } catch (error) {
            for (const item of staged) no(item.request, error);
          }
        }
      }
    }
    const refused = staged.flatMap(({ request }) => {
      const vote = votes.get(request.txId)!;
      return vote.vote === 'no' ? [{ txId: request.txId, action: request.action, reason: `${vote.error.code}: ${vote.error.message}` }] : [];
    });
    if (refused.length) await this.tombstone(refused);
    for (const request of requests) this.o.metrics.prepares.inc({ action: this.o.actions[request.action] ? request.action : 'unknown', vote: votes.get(request.txId)!.vote });
    return requests.map((request) => votes.get(request.txId)!);
  }

  /** The action and parsed payload of a prepare, or the INVALID_ARGUMENT it deserves. */
  private validate(request: PrepareRequest): { action: ParticipantAction<Tx, unknown>; payload: unknown } {
    const action = this.o.actions[request.action];
    if (!action) throw createError({ code: 'INVALID_ARGUMENT', message: `unknown action "${request.action}"`, details: { known: Object.keys(this.o.actions) } });
    const parsed = action.payload.safeParse(request.payload);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ path: ['payload', ...issue.path.map(String)].join('.'), message: issue.message }));
      throw createError({ code: 'INVALID_ARGUMENT', message: issues.map((i) => `${i.path}: ${i.message}`).join('; '), details: { issues } });
    }
    return { action, payload: parsed.data };
  }

  /** Claims and stages every item; throws if any cannot be (refused, or prepared before). */
  private async stageAll(tx: Tx, staged: Staged<Tx>[]): Promise<Map<string, string>> {
    const claimed = await tx.$queryRawUnsafe<{ tx_id: string; request_id: string }[]>(
      `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, action, payload, state, timeout_ms)
       SELECT tx_id, request_id, action, payload::jsonb, 'prepared', timeout_ms
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS item(tx_id, request_id, action, payload, timeout_ms)
       ON CONFLICT (tx_id) DO NOTHING RETURNING tx_id, request_id`,
      staged.map((item) => item.request.txId),
      staged.map(() => randomUUID()),
      staged.map((item) => item.request.action),
      staged.map((item) => JSON.stringify(item.payload)),
      staged.map((item) => item.request.timeoutMs),
    );
    // A prepare seen before is answered item by item (as the first one was, or CONFLICT).
    if (claimed.length !== staged.length) throw new Error('the batch repeats a transaction prepared before');
    for (const [action, items] of byAction(staged)) {
      const actionItems = items.map((item) => ({ payload: item.payload, context: { txId: item.request.txId } }));
      if (action.prepareMany) await action.prepareMany(tx, actionItems);
      else for (const item of actionItems) await action.prepare(tx, item.payload, item.context);
    }
    return new Map(claimed.map((row) => [row.tx_id, row.request_id]));
  }

  private async stageOne(tx: Tx, item: Staged<Tx>): Promise<Map<string, string>> {
    return new Map([[item.request.txId, await this.stage(tx, item)]]);
  }

  /** Each item in its own savepoint: its request id when staged, else the error of its no vote. */
  private async stageOneByOne(tx: Tx, staged: Staged<Tx>[]): Promise<Map<string, string | unknown>> {
    const outcomes = new Map<string, string | unknown>();
    for (const item of staged) {
      await tx.$executeRawUnsafe('SAVEPOINT prepare_item');
      try {
        outcomes.set(item.request.txId, await this.stage(tx, item));
        await tx.$executeRawUnsafe('RELEASE SAVEPOINT prepare_item');
      } catch (error) {
        await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT prepare_item');
        await tx.$executeRawUnsafe('RELEASE SAVEPOINT prepare_item');
        outcomes.set(item.request.txId, error);
      }
    }
    return outcomes;
  }

  /** Claims one transaction and stages its change; a repeated prepare answers as the first one did. */
  private async stage(tx: Tx, { request, action, payload }: Staged<Tx>): Promise<string> {
    const claimed = await tx.$queryRawUnsafe<{ request_id: string }[]>(
      `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, action, payload, state, timeout_ms)
       VALUES ($1, $2, $3, $4::jsonb, 'prepared', $5)
       ON CONFLICT (tx_id) DO NOTHING RETURNING request_id`,
      request.txId,
      randomUUID(),
      request.action,
      JSON.stringify(payload),
      request.timeoutMs,
    );
    if (claimed[0]) {
      await action.prepare(tx, payload, { txId: request.txId });
      return claimed[0].request_id;
    }
    // The same transaction again (a retried prepare): answer as the first time did, if it is
    // the same request; a different action or payload under one txId is a conflict.
    const [existing] = await tx.$queryRawUnsafe<(Row & { same: boolean })[]>(
      `SELECT ${COLUMNS}, (action = $2 AND payload = $3::jsonb) AS same FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1`,
      request.txId,
      request.action,
      JSON.stringify(payload),
    );
    if (!existing || existing.state === 'aborted' || !existing.same) {
      const why = !existing ? 'unknown' : existing.state === 'aborted' ? 'aborted' : 'prepared with a different request';
      throw createError({ code: 'CONFLICT', message: `transaction ${request.txId} is ${why}`, details: { txId: request.txId } });
    }
    return existing.request_id;
  }

  /** Phase 2, commit. Idempotent; after a rollback it is CONFLICT and changes nothing. */
  async commit(txId: string): Promise<ParticipantTransaction> {
    return this.decide(txId, 'committed');
  }

  /** Phase 2, abort. Idempotent; an unknown transaction is acknowledged (presumed abort) and remembered as aborted. */
  async rollback(txId: string): Promise<ParticipantTransaction> {
    return this.decide(txId, 'aborted');
  }

  /**
   * Phase 2 for many transactions in one database transaction (one fsync): the state rows locked
   * in txId order, each action's changes applied set-based where it can. One result per item, in
   * the request's order; a batch that fails as a whole is decided again one item at a time, so a
   * single bad item cannot hold back the others.
   */
  async decideBatch(txIds: string[], outcome: 'committed' | 'aborted'): Promise<BatchDecision[]> {
    const results = new Map<string, BatchDecision>();
    let applied: Row[] = [];
    try {
      applied = await this.o.transaction(async (tx) => {
        const rows = await tx.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM ${PARTICIPANT_TABLE} WHERE tx_id = ANY($1::text[]) ORDER BY tx_id FOR UPDATE`, txIds);
        const toApply = rows.filter((row) => row.state === 'prepared' && row.action && this.o.actions[row.action]);
        if (!toApply.length) return [];
        const updated = await tx.$queryRawUnsafe<Row[]>(
          `UPDATE ${PARTICIPANT_TABLE} SET state = $2, decided_at = now() WHERE tx_id = ANY($1::text[]) RETURNING ${COLUMNS}`,
          toApply.map((row) => row.tx_id),
          outcome,
        );
        for (const [action, items] of byAction(updated.map((row) => ({ action: this.o.actions[row.action!]!, row })))) {
          const actionItems = items.map(({ row }) => ({ payload: row.payload, context: { txId: row.tx_id } }));
          const many = outcome === 'committed' ? action.commitMany : action.rollbackMany;
          if (many) await many.call(action, tx, actionItems);
          else for (const item of actionItems) await (outcome === 'committed' ? action.commit : action.rollback).call(action, tx, item.payload, item.context);
        }
        return updated;
      });
    } catch (error) {
      this.o.log.warn({ err: error, items: txIds.length, outcome }, 'batch decision failed as a whole; deciding its items one by one');
    }
    for (const row of applied) {
      results.set(row.tx_id, { txId: row.tx_id, ack: true, transaction: toTransaction(row) });
      (outcome === 'committed' ? this.o.metrics.commits : this.o.metrics.rollbacks).inc({ action: row.action ?? 'unknown' });
    }
    // Everything else (already decided, unknown, or left by a failed batch) through the single path.
    for (const id of txIds) {
      if (results.has(id)) continue;
      try {
        results.set(id, { txId: id, ack: true, transaction: await this.decide(id, outcome) });
      } catch (error) {
        results.set(id, { txId: id, ack: false, error: itemError(error) });
      }
    }
    return txIds.map((id) => results.get(id)!);
  }

  async state(txId: string): Promise<ParticipantTransaction | undefined> {
    const [row] = await this.o.db.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM ${PARTICIPANT_TABLE} WHERE tx_id = $1`, txId);
    return row ? toTransaction(row) : undefined;
  }

  /** The transaction id behind a request_id that persist's request_id routes handed out. */
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

  /** Records no votes, so a late duplicate prepare cannot vote yes; never throws (the votes are what the caller needs). */
  private async tombstone(refused: { txId: string; action: string; reason: string }[]): Promise<void> {
    try {
      await this.o.db.$executeRawUnsafe(
        `INSERT INTO ${PARTICIPANT_TABLE} (tx_id, request_id, action, state, timeout_ms, decided_at, reason)
         SELECT tx_id, request_id, action, 'aborted', 0, now(), reason FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS item(tx_id, request_id, action, reason)
         ON CONFLICT (tx_id) DO NOTHING`,
        refused.map((item) => item.txId),
        refused.map(() => randomUUID()),
        refused.map((item) => item.action.slice(0, 100)),
        refused.map((item) => item.reason.slice(0, 500)),
      );
    } catch (error) {
      // The votes are no either way; without the record a late duplicate prepare could vote yes,
      // which the coordinator (having decided abort) then rolls back.
      this.o.log.error({ err: error, txIds: refused.map((item) => item.txId) }, 'could not record no votes');
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
    const coordinator = this.o.coordinator();
    const instance = coordinator.pick();
    // undici, not fetch: fetch refuses "bad ports", and the coordinator may sit on one.
    const answered = await request(`${originOf(instance)}/api/2pc/${encodeURIComponent(id)}`, {
      headers: this.o.identity.headers(coordinator.service),
      signal: AbortSignal.timeout(this.o.coordinatorTimeoutMs),
    });
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

interface Staged<Tx extends SqlClient> {
  request: PrepareRequest;
  action: ParticipantAction<Tx, unknown>;
  payload: unknown;
}

/** Lock order within a batch: by action, then the action's lock key (default: the txId). */
function lockOrder<Tx extends SqlClient>(a: Staged<Tx>, b: Staged<Tx>): number {
  const key = (item: Staged<Tx>) => item.action.lockKey?.(item.payload) ?? item.request.txId;
  return a.request.action < b.request.action ? -1 : a.request.action > b.request.action ? 1 : key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/** Items grouped by their action, groups in order of first appearance. */
function byAction<I extends { action: unknown }>(items: I[]): Map<I['action'], I[]> {
  const groups = new Map<I['action'], I[]>();
  for (const item of items) {
    const group = groups.get(item.action);
    if (group) group.push(item);
    else groups.set(item.action, [item]);
  }
  return groups;
}

/** An item's error as the batch answers carry it. */
function itemError(error: unknown): ItemError {
  const { code, message, details } = toAppError(error).toJSON().error;
  return { code, message, ...(details ? { details } : {}) };
}
