// The coordinator half of two-phase commit: runs one domain action as a transaction across
// participants (prepares in parallel, each with a deadline), writes its decision durably before
// phase 2, retries phase 2 until every participant acknowledges, finishes what a crash left in
// doubt, and answers participants that ask about a transaction. Generic: a transaction is a
// definition (defineTransaction) given to the coordinator by name, so a new one needs no change here.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createError, hasErrorCode, isFinalRefusal, type ErrorCode } from '../errors.ts';
import type { UpstreamClient } from '../balancing/upstream-client.ts';
import { METRIC } from '../metrics/names.ts';
import { perRegistry } from '../metrics/per-registry.ts';
import type { SqlClient } from './participant.ts';
import type { BatchDecision, BatchVote } from './protocol.ts';
import { shapeOf, type TransactionDefinition, type TransactionPayloads } from './transaction.ts';
import { currentTraceparent, failSpan, inContext, inSpan, startSpan, tracingOn, under, type Span } from '../tracing/tracing.ts';

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

/** The transaction's definition by name, so recovery runs what follows its commit. Null in rows written before names were kept. */
export const COORDINATOR_NAME_DDL = `ALTER TABLE "coordinator_transactions" ADD COLUMN "name" TEXT;`;

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
  /**
   * Group commit: transactions of the same definition that arrive
   * while `batchesInFlight` batches of that definition are under way wait and form the next batch, of
   * at most `batchMaxItems` transactions and `batchMaxBytes` of log. An idle coordinator sends a
   * lone transaction at once. Defaults: 2, 256, 2 MiB; `batchMaxItems: 1` turns batching off.
   */
  batchesInFlight?: number;
  batchMaxItems?: number;
  batchMaxBytes?: number;
  /** Test seam: runs after the decision is durable and before phase 2 (to simulate a crash there). */
  afterDecision?: (txId: string) => Promise<void> | void;
  /** Test seam: runs once a batch's prepares were sent and before its decision (a crash mid-prepare). */
  afterPrepare?: (txIds: string[]) => Promise<void> | void;
  /**
   * The transactions this coordinator runs, by name: `run()` takes only these, and recovery finds
   * a logged transaction's definition (and so its afterCommit and followUp) by the name in its row.
   */
  transactions: readonly TransactionDefinition[];
}

/** A decided transaction on its way through phase 2. `name` is null in log rows written before names were kept. */
interface Finishing {
  txId: string;
  name: string | null;
  outcome: Outcome;
  branches: Branch[];
  /** The transaction's span (tracing on, and run here since this start): phase 2 and what follows are its children. */
  span?: Span | undefined;
}

/** The payload of each participant, by service. */
function payloadsOf(branches: Branch[]): Record<string, unknown> {
  return Object.fromEntries(branches.map((branch) => [branch.service, branch.payload]));
}

export interface RunResult {
  txId: string;
  committed: boolean;
  votes: Vote[];
  done: Promise<boolean>;
}

interface Queued {
  txId: string;
  name: string;
  branches: Branch[];
  /** The branches as the log stores them (their length bounds a batch's bytes). */
  logged: string;
  /** The transaction's span, a child of the caller's (tracing on); ended once everything after the commit is done. */
  span: Span | undefined;
  resolve: (result: RunResult) => void;
  reject: (error: unknown) => void;
}

interface Queue {
  waiting: Queued[];
  inFlight: number;
}

/**
 * A phase-2 answer that settles its branch: a final refusal (`isFinalRefusal`) saying the
 * participant never prepared the transaction (NOT_FOUND: it voted no) or decided it otherwise
 * (CONFLICT). Other final refusals (a malformed request, a refused caller) leave the branch holding
 * its prepared change, so phase 2 goes on trying.
 */
function settlesBranch(error: unknown): error is { code: ErrorCode } {
  return isFinalRefusal(error) && (error.code === 'NOT_FOUND' || error.code === 'CONFLICT');
}

export class Coordinator {
  /** Transactions waiting for a batch, by definition name. */
  private readonly queues = new Map<string, Queue>();
  /** Transactions whose phase 2 (or follow-up) is under way: `phase2` resolves once phase 2 is done. */
  private readonly finishing = new Map<string, { phase2: Promise<boolean>; all: Promise<boolean> }>();
  /** Transactions in their first phase here (logged as pending, not decided yet). */
  private readonly running = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly metrics: CoordinatorMetrics;

  /** The definitions by name, and by shape for log rows written before names were kept. */
  private readonly definitions = new Map<string, TransactionDefinition>();
  private readonly byShape = new Map<string, TransactionDefinition>();

  constructor(private readonly o: CoordinatorOptions) {
    this.metrics = coordinatorMetrics(o.metrics);
    this.metrics.live.add(this.finishing);
    for (const definition of o.transactions) {
      if (this.definitions.has(definition.name)) throw new TypeError(`two transactions are named ${definition.name}`);
      this.definitions.set(definition.name, definition);
      // Log rows from before names were kept are matched by their branches, so no two definitions may share them.
      const shape = shapeOf(definition.branches);
      const same = this.byShape.get(shape);
      if (same) throw new TypeError(`transactions ${same.name} and ${definition.name} have the same participants and actions`);
      this.byShape.set(shape, definition);
    }
  }

  private get leaseSeconds(): number {
    return (this.o.leaseMs ?? 15_000) / 1_000;
  }

  /**
   * Runs one transaction; resolves once the decision is durable (phase 2 goes on in the background).
   * `done` resolves true once every participant acknowledged phase 2, false if the coordinator
   * stopped first (the next start's `recover()` finishes it). Transactions of the same definition are
   * group-committed (see `batchesInFlight`); each keeps its own id, log row, votes and outcome.
   */
  run<D extends TransactionDefinition>(definition: D, payloads: TransactionPayloads<D['branches']>, txId = randomUUID()): Promise<RunResult> {
    if (this.definitions.get(definition.name) !== definition) {
      return Promise.reject(new TypeError(`transaction ${definition.name} is not one this coordinator was given (CoordinatorOptions.transactions)`));
    }
    const byService = payloads as Record<string, unknown>;
    const branches: Branch[] = definition.branches.map(({ service, action }) => ({ service, action, payload: byService[service] }));
    if (this.stopped) return Promise.reject(createError({ code: 'UNAVAILABLE', message: 'the coordinator is stopping; try again' }));
    if (this.running.has(txId)) return Promise.reject(createError({ code: 'CONFLICT', message: `transaction ${txId} is running already`, details: { txId } }));
    // Marked as running here before it exists in the log, so this instance's sweep leaves it alone.
    this.running.add(txId);
    const logged = JSON.stringify(branches);
    const { name } = definition;
    const span = tracingOn() ? startSpan(`2pc ${name}`, { attributes: { 'twopc.tx_id': txId, 'twopc.transaction': name } }) : undefined;
    return new Promise<RunResult>((resolve, reject) => {
      let queue = this.queues.get(name);
      if (!queue) this.queues.set(name, (queue = { waiting: [], inFlight: 0 }));
      queue.waiting.push({
        txId,
        name,
        branches,
        logged,
        span,
        resolve,
        reject: (error) => {
          if (span) {
            failSpan(span, error);
            span.end();
          }
          reject(error);
        },
      });
      this.pump(name, queue);
    });
  }

  /** Starts batches of this definition while fewer than `batchesInFlight` are under way. */
  private pump(name: string, queue: Queue): void {
    const maxItems = this.o.batchMaxItems ?? 256;
    const maxBytes = this.o.batchMaxBytes ?? 2 * 1024 * 1024;
    while (queue.inFlight < (this.o.batchesInFlight ?? 2) && queue.waiting.length) {
      let items = 1;
      let bytes = queue.waiting[0]!.logged.length;
      while (items < Math.min(maxItems, queue.waiting.length) && bytes + queue.waiting[items]!.logged.length <= maxBytes) bytes += queue.waiting[items++]!.logged.length;
      const batch = queue.waiting.splice(0, items);
      queue.inFlight += 1;
      void this.runBatch(batch).finally(() => {
        queue.inFlight -= 1;
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.queues.delete(name);
        else this.pump(name, queue);
      });
    }
  }

  /** One batch's first phase and decision; settles every item's `run()`; never rejects. */
  private async runBatch(batch: Queued[]): Promise<void> {
    const started = performance.now();
    this.metrics.batchSize.observe(batch.length);
    try {
      // Recorded before any prepare: a participant asking meanwhile hears `pending`, not "no record".
      const inserted = await this.o.db.$queryRawUnsafe<{ tx_id: string }[]>(
        `INSERT INTO ${COORDINATOR_TABLE} (tx_id, state, branches, owner, lease_until, name)
         SELECT tx_id, 'pending', branches::jsonb, $3, now() + make_interval(secs => $4), $5 FROM unnest($1::text[], $2::text[]) AS item(tx_id, branches)
         ON CONFLICT (tx_id) DO NOTHING RETURNING tx_id`,
        batch.map((item) => item.txId),
        batch.map((item) => item.logged),
        this.o.owner(),
        this.leaseSeconds,
        batch[0]!.name,
      );
      const fresh = new Set(inserted.map((row) => row.tx_id));
      const live = batch.filter((item) => fresh.has(item.txId));
      for (const item of batch) {
        if (!fresh.has(item.txId)) item.reject(createError({ code: 'CONFLICT', message: `transaction ${item.txId} exists already`, details: { txId: item.txId } }));
      }
      if (!live.length) return;
      const shape = live[0]!.branches;
      const prepares = live.map((item) => (item.span ? startSpan('prepare', { attributes: { 'twopc.batch_size': live.length } }, under(item.span)) : undefined));
      const votesByBranch = await Promise.all(
        shape.map((branch, at) => this.prepareAll(branch.service, live.map((item, index) => ({ txId: item.txId, branch: item.branches[at]!, span: prepares[index] })))),
      );
      for (const [index, span] of prepares.entries()) {
        if (!span) continue;
        const no = votesByBranch.map((votes) => votes.get(live[index]!.txId)!).find((vote) => vote.vote === 'no');
        if (no) failSpan(span, { code: `${no.service}: ${no.error?.code ?? 'no'}` });
        span.end();
      }
      await this.o.afterPrepare?.(live.map((item) => item.txId));
      const wanted = live.map((item) => {
        const votes = votesByBranch.map((votes) => votes.get(item.txId)!);
        const outcome: Outcome = votes.every((vote) => vote.vote === 'yes') ? 'committed' : 'aborted';
        const reason = outcome === 'committed' ? null : votes.filter((vote) => vote.vote === 'no').map((vote) => `${vote.service}: ${vote.error?.code ?? 'no'}`).join(', ');
        return { item, votes, outcome, reason };
      });
      const stored = await this.decide(wanted.map(({ item, outcome, reason }) => ({ txId: item.txId, outcome, reason })));
      const seconds = (performance.now() - started) / 1_000;
      const decided = wanted.map(({ item, votes, outcome }) => {
        const final = stored.get(item.txId)!;
        this.metrics.duration.observe(seconds);
        this.metrics.outcomes.inc({ outcome: final });
        // Another coordinator found this transaction undecided past its lease and aborted it.
        if (final !== outcome) votes.push({ service: 'coordinator', vote: 'no', error: { code: 'UNAVAILABLE', message: 'the transaction was aborted before it could be decided; try again' } });
        item.span?.setAttribute('twopc.outcome', final);
        return { txId: item.txId, name: item.name, branches: item.branches, outcome: final, votes, item, span: item.span };
      });
      for (const { txId } of decided) await this.o.afterDecision?.(txId);
      const done = this.finish(decided);
      for (const { item, txId, outcome, votes } of decided) item.resolve({ txId, committed: outcome === 'committed', votes, done });
    } catch (error) {
      // Items settled already (a refused duplicate id) keep their answer. "Not known yet" names
      // each caller's own transaction, to read back before repeating it.
      for (const item of batch) {
        item.reject(hasErrorCode(error) && error.code === 'TIMEOUT' ? createError({ code: 'TIMEOUT', message: error.message, details: { txId: item.txId }, cause: error }) : error);
      }
    } finally {
      for (const item of batch) this.running.delete(item.txId);
    }
  }

  /**
   * Writes each decision unless one is already stored, and returns the stored ones: only a pending
   * transaction is decided, so a coordinator that took it over and aborted it wins over a late
   * commit. One statement for the whole batch. While the database cannot be reached the write is
   * retried for `decisionWriteMs`; then the callers hear TIMEOUT (the outcome is not known yet)
   * and the sweep finishes the transactions.
   */
  private async decide(wanted: { txId: string; outcome: Outcome; reason: string | null }[]): Promise<Map<string, Outcome>> {
    const deadline = Date.now() + (this.o.decisionWriteMs ?? 10_000);
    const ids = wanted.map((entry) => entry.txId);
    for (let tries = 0; ; tries += 1) {
      try {
        const rows = await this.o.db.$queryRawUnsafe<{ tx_id: string; state: Outcome | 'pending' }[]>(
          `WITH wanted AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS w(tx_id, state, reason)),
                decided AS (UPDATE ${COORDINATOR_TABLE} t SET state = wanted.state, decided_at = now(), reason = wanted.reason
                            FROM wanted WHERE t.tx_id = wanted.tx_id AND t.state = 'pending' RETURNING t.tx_id, t.state)
           SELECT tx_id, state FROM decided
           UNION ALL SELECT tx_id, state FROM ${COORDINATOR_TABLE} WHERE tx_id = ANY($1::text[]) AND tx_id NOT IN (SELECT tx_id FROM decided)`,
          ids,
          wanted.map((entry) => entry.outcome),
          wanted.map((entry) => entry.reason),
        );
        const stored = new Map(rows.filter((row) => row.state !== 'pending').map((row) => [row.tx_id, row.state as Outcome]));
        const missing = ids.filter((id) => !stored.has(id));
        if (missing.length) throw new Error(`transactions ${missing.slice(0, 5).join(', ')} are missing from the coordinator's log`);
        return stored;
      } catch (error) {
        if (Date.now() >= deadline || this.stopped) {
          throw createError({
            code: 'TIMEOUT',
            message: 'the outcome is not known yet: the coordinator could not record its decision; the transaction finishes on its own (read it back before repeating it)',
            details: ids.length === 1 ? { txId: ids[0] } : {},
            cause: error,
          });
        }
        const pause = Math.min(1_000, 50 * 2 ** Math.min(tries, 10));
        this.o.log.warn({ err: error, txIds: ids.slice(0, 10), retryInMs: pause }, 'could not record the decision; retrying');
        await sleep(pause * (0.5 + Math.random() * 0.5), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** One participant's votes on a batch: one prepare request carrying every item (the single route for one). */
  private async prepareAll(service: string, items: { txId: string; branch: Branch; span: Span | undefined }[]): Promise<Map<string, Vote>> {
    const votes = new Map<string, Vote>();
    // A batch names each item's trace; a lone prepare's is in its request's headers.
    const request = ({ txId, branch, span }: { txId: string; branch: Branch; span: Span | undefined }) => {
      const traceparent = items.length > 1 && span ? currentTraceparent(under(span)) : undefined;
      return { txId, action: branch.action, payload: branch.payload, timeoutMs: this.o.prepareTimeoutMs, ...(traceparent ? { traceparent } : {}) };
    };
    // The request itself belongs to the first item's trace (the others link to it at the participant).
    return inContext(under(items[0]?.span), async () => {
      try {
        // The participant answers a repeated prepare as the first one, so another instance may retry it.
        const options = { method: 'POST', deadlineMs: this.o.prepareTimeoutMs, idempotent: true };
        if (items.length === 1) {
          await this.o.participant(service).request({ ...options, path: '/api/prepare_2pc', body: request(items[0]!) });
          votes.set(items[0]!.txId, { service, vote: 'yes' });
          return votes;
        }
        const answer = await this.o.participant(service).request<{ votes?: BatchVote[] }>({ ...options, path: '/api/prepare_2pc/batch', body: { items: items.map(request) } });
        for (const vote of answer.body.votes ?? []) {
          votes.set(vote.txId, vote.vote === 'yes' ? { service, vote: 'yes' } : { service, vote: 'no', error: { code: vote.error.code, message: vote.error.message, details: vote.error.details ?? {} } });
        }
      } catch (error) {
        const described = hasErrorCode(error)
          ? { code: error.code, message: error.message, details: (error as { details?: Record<string, unknown> }).details ?? {} }
          : { code: 'INTERNAL', message: String(error) };
        for (const { txId } of items) votes.set(txId, { service, vote: 'no', error: described });
      }
      // An item the answer left out has no yes vote.
      for (const { txId } of items) if (!votes.has(txId)) votes.set(txId, { service, vote: 'no', error: { code: 'INTERNAL', message: `${service} did not vote on ${txId}` } });
      return votes;
    });
  }

  /**
   * Phase 2 until every branch of every transaction acknowledges (one commit and one rollback
   * request per participant for the batch), then each follow-up, then the transactions are marked
   * complete in one statement; one run per txId. Resolves once phase 2 is done: callers wait for
   * what they can read back, not for the follow-ups or the completion record.
   */
  private finish(given: Finishing[]): Promise<boolean> {
    const entries = given.filter((entry) => !this.finishing.has(entry.txId));
    // One already finishing here keeps that run's spans; this one's ends unused.
    for (const entry of given) if (this.finishing.has(entry.txId)) entry.span?.end();
    if (!entries.length) return Promise.resolve(true);
    const ids = entries.map((entry) => entry.txId);
    // Phase 2 of each transaction is a span of its own trace.
    const phase2Spans = new Map(entries.flatMap((entry) => (entry.span ? [[entry.txId, startSpan(entry.outcome === 'committed' ? 'commit' : 'rollback', {}, under(entry.span))] as const] : [])));
    let phase2Done!: (done: boolean) => void;
    const phase2 = new Promise<boolean>((resolve) => (phase2Done = resolve));
    const all = (async () => {
      const services = [...new Set(entries.flatMap((entry) => entry.branches.map((branch) => branch.service)))];
      await Promise.all(
        services.flatMap((service) =>
          (['committed', 'aborted'] as const).map((outcome) => {
            const txIds = entries.filter((entry) => entry.outcome === outcome && entry.branches.some((branch) => branch.service === service)).map((entry) => entry.txId);
            return txIds.length ? this.decideBranch(service, outcome, txIds, phase2Spans) : undefined;
          }),
        ),
      );
      for (const span of phase2Spans.values()) span.end();
      if (this.stopped) return false;
      const committed = entries.flatMap((entry) => {
        const definition = entry.outcome === 'committed' ? this.definitionOf(entry) : undefined;
        return definition ? [{ ...entry, definition, payloads: payloadsOf(entry.branches) }] : [];
      });
      for (const entry of committed) void inContext(under(entry.span), () => this.afterCommit(entry.definition, entry.payloads, entry.txId));
      // Marking them complete is retried here while the database is down: left to the sweep, the
      // transactions would be finished again and their afterCommit (the gateway's pushes) run twice.
      const complete = () =>
        this.untilDone(async () => void (await this.o.db.$executeRawUnsafe(`UPDATE ${COORDINATOR_TABLE} SET completed_at = now() WHERE tx_id = ANY($1::text[])`, ids)), {
          txId: ids[0]!,
          step: 'completion',
        });
      // Callers wait for what they can read back (phase 2), not for the follow-ups or the bookkeeping.
      phase2Done(true);
      const following = committed.filter((entry) => entry.definition.followUp);
      const followed = await Promise.all(
        following.map((entry) =>
          this.untilDone(() => inContext(under(entry.span), () => inSpan('follow-up', {}, () => entry.definition.followUp!(entry.payloads, entry.txId))), {
            txId: entry.txId,
            step: 'follow-up',
            outcome: entry.outcome,
          }),
        ),
      );
      if (!followed.every(Boolean)) return false;
      return complete();
    })()
      .catch((error: unknown) => {
        // Left open in the log: the sweep (or the next start's recover()) finishes them.
        this.o.log.error({ err: error, txIds: ids.slice(0, 10) }, 'could not finish the transactions; recovery will');
        return false;
      })
      .then((done) => {
        phase2Done(done);
        return done;
      })
      .finally(() => {
        for (const id of ids) this.finishing.delete(id);
        for (const entry of entries) entry.span?.end();
      });
    for (const id of ids) this.finishing.set(id, { phase2, all });
    return phase2;
  }

  private async afterCommit(definition: TransactionDefinition, payloads: Record<string, unknown>, txId: string): Promise<void> {
    if (!definition.afterCommit) return;
    try {
      await inSpan('after commit', {}, async () => definition.afterCommit!(payloads as never, txId));
    } catch (error) {
      this.o.log.error({ err: error, txId, transaction: definition.name }, 'afterCommit failed after phase 2');
    }
  }

  /** A logged transaction's definition: by its name, or by its participants and actions for rows from before names were kept. */
  private definitionOf(entry: Finishing): TransactionDefinition | undefined {
    const definition = entry.name === null ? this.byShape.get(shapeOf(entry.branches)) : this.definitions.get(entry.name);
    if (!definition) this.o.log.error({ txId: entry.txId, transaction: entry.name }, 'no definition of this transaction here: phase 2 finishes, nothing follows it');
    return definition;
  }

  /**
   * One participant's phase 2 for some transactions, retried until each is acknowledged (a retry
   * carries only those still unacknowledged). A commit the participant never prepared (it voted
   * no) or a conflicting decision is final: retrying cannot change it, and it means that branch
   * never held the change.
   */
  private async decideBranch(service: string, outcome: Outcome, txIds: string[], spans: ReadonlyMap<string, Span>): Promise<void> {
    let left = txIds;
    // Each request belongs to its first transaction's trace; a batch names every item's.
    const traced = <T>(work: () => Promise<T>) => inContext(under(spans.get(left[0]!)), work);
    const traceparents = () => {
      if (!spans.size) return {};
      const named = left.flatMap((txId) => {
        const span = spans.get(txId);
        const traceparent = span && currentTraceparent(under(span));
        return traceparent ? [[txId, traceparent] as const] : [];
      });
      return named.length ? { traceparents: Object.fromEntries(named) } : {};
    };
    const final = (txId: string, code: string) => this.o.log.error({ txId, service, outcome, code }, 'participant refused the decision');
    await this.untilDone(async () => {
      const options = { method: 'POST', deadlineMs: this.o.decisionTimeoutMs, idempotent: true };
      if (left.length === 1) {
        try {
          await traced(() =>
            this.o.participant(service).request({ ...options, method: outcome === 'committed' ? 'POST' : 'DELETE', path: outcome === 'committed' ? '/api/commit_2pc' : '/api/rollback_2pc', body: { txId: left[0] } }),
          );
        } catch (error) {
          if (!settlesBranch(error)) throw error;
          final(left[0]!, error.code);
        }
        left = [];
        return;
      }
      const answer = await traced(() =>
        this.o.participant(service).request<{ results?: BatchDecision[] }>({
          ...options,
          path: outcome === 'committed' ? '/api/commit_2pc/batch' : '/api/rollback_2pc/batch',
          body: { txIds: left, ...traceparents() },
        }),
      );
      const results = new Map((answer.body.results ?? []).map((result) => [result.txId, result]));
      left = left.filter((txId) => {
        const result = results.get(txId);
        if (result?.ack) return false;
        if (result && settlesBranch(result.error)) {
          final(txId, result.error.code);
          return false;
        }
        return true;
      });
      if (left.length) throw createError({ code: 'UNAVAILABLE', message: `${service} has not acknowledged ${left.length} transaction(s) yet`, details: { txIds: left.slice(0, 10) } });
    }, { txId: txIds[0]!, step: 'phase 2', service, outcome });
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
    const open = await this.o.db.$queryRawUnsafe<{ tx_id: string; name: string | null; state: Outcome | 'pending'; branches: Branch[] }[]>(
      `UPDATE ${COORDINATOR_TABLE} SET owner = $1, lease_until = now() + make_interval(secs => $2)
       WHERE tx_id IN (
         SELECT tx_id FROM ${COORDINATOR_TABLE}
         WHERE completed_at IS NULL AND (owner = $1 OR lease_until < now())
           AND tx_id NOT IN (SELECT jsonb_array_elements_text($3::jsonb))
         ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED)
       RETURNING tx_id, name, state, branches`,
      this.o.owner(),
      this.leaseSeconds,
      busy,
    );
    for (const row of open) {
      if (this.stopped || this.finishing.has(row.tx_id) || this.running.has(row.tx_id)) continue;
      let outcome = row.state;
      if (outcome === 'pending') {
        // No decision was written: nobody can have been told to commit, so abort (presumed abort).
        outcome = (await this.decide([{ txId: row.tx_id, outcome: 'aborted', reason: 'its coordinator stopped before deciding' }])).get(row.tx_id)!;
      }
      this.o.log.info({ txId: row.tx_id, outcome }, 'finishing a transaction left in doubt');
      void this.finish([{ txId: row.tx_id, name: row.name, outcome, branches: row.branches }]);
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
    // Waiting transactions were never logged nor prepared: nothing to finish, the callers may retry.
    for (const queue of this.queues.values()) {
      for (const item of queue.waiting.splice(0)) {
        this.running.delete(item.txId);
        item.reject(createError({ code: 'UNAVAILABLE', message: 'the coordinator is stopping; try again' }));
      }
    }
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
    batchSize: new Histogram({
      name: METRIC.coordinatorBatchSize,
      help: 'Transactions per group-committed batch (one log write, one prepare and one decision request per participant)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
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
