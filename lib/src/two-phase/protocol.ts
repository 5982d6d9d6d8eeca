// The two-phase-commit wire protocol of the contract: participant requests and answers, and the
// coordinator's answer to "what became of transaction X?".
import { z } from 'zod';

/** Transaction ids: the coordinator's, or one a request_id-route caller chose; opaque, URL-safe. */
export const txId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1 to 128 letters, digits or _ . : -');

/** A W3C trace context (`traceparent`): a batch's items each belong to their own trace. */
export const traceparent = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent');

export const prepareRequest = z.strictObject({
  txId,
  action: z.string().min(1).max(100),
  payload: z.unknown(),
  /** How long (ms) the participant holds the prepared change before asking the coordinator. */
  timeoutMs: z.number().int().min(1).max(3_600_000),
  /** The trace this transaction belongs to (sent only while tracing is on). */
  traceparent: traceparent.optional(),
});
export type PrepareRequest = z.infer<typeof prepareRequest>;

export const decisionRequest = z.strictObject({ txId });

/** A participant's state of one transaction. */
export type ParticipantState = 'prepared' | 'committed' | 'aborted';

export interface ParticipantTransaction {
  txId: string;
  requestId: string;
  action: string | null;
  state: ParticipantState;
  preparedAt: string;
  decidedAt: string | null;
  reason: string | null;
}

/**
 * What the coordinator answers at `GET /api/2pc/:txId`: still deciding, or its durable decision.
 * "No record" (which participants take as abort) is a 404 whose `error.details.txId` names the
 * transaction asked about; any other answer leaves the transaction prepared.
 */
export const coordinatorAnswer = z.object({
  txId,
  state: z.enum(['pending', 'committed', 'aborted']),
});
export type CoordinatorAnswer = z.infer<typeof coordinatorAnswer>;

export const PARTICIPANT_TABLE = 'two_phase_transactions';

/**
 * The participant state table, exactly as every participant's migration creates it (a test checks
 * each migration contains this text): the kit's queries depend on it.
 */
export const PARTICIPANT_TABLE_DDL = `CREATE TABLE "two_phase_transactions" (
    "tx_id" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "action" TEXT,
    "payload" JSONB,
    "state" TEXT NOT NULL,
    "timeout_ms" INTEGER NOT NULL,
    "prepared_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "checked_at" TIMESTAMPTZ(3),
    "decided_at" TIMESTAMPTZ(3),
    "reason" TEXT,

    CONSTRAINT "two_phase_transactions_pkey" PRIMARY KEY ("tx_id"),
    CONSTRAINT "two_phase_transactions_state_check" CHECK ("state" IN ('prepared', 'committed', 'aborted'))
);
CREATE UNIQUE INDEX "two_phase_transactions_request_id_key" ON "two_phase_transactions"("request_id");
CREATE INDEX "two_phase_transactions_state_prepared_at_idx" ON "two_phase_transactions"("state", "prepared_at");`;

/** Most transactions one batch request of the coordinator carries. */
export const BATCH_MAX_ITEMS = 1_000;

const distinct = (ids: string[]) => new Set(ids).size === ids.length;

/** `POST /api/prepare_2pc/batch`: many prepares, staged in one database transaction; one vote each. */
export const prepareBatchRequest = z.strictObject({
  items: z.array(prepareRequest).min(1).max(BATCH_MAX_ITEMS).refine((items) => distinct(items.map((item) => item.txId)), 'transaction ids must not repeat'),
});
export type PrepareBatchRequest = z.infer<typeof prepareBatchRequest>;

/** `POST /api/commit_2pc/batch` and `POST /api/rollback_2pc/batch`: one decision for many transactions. */
export const decisionBatchRequest = z.strictObject({
  txIds: z.array(txId).min(1).max(BATCH_MAX_ITEMS).refine(distinct, 'transaction ids must not repeat'),
  /** Each transaction's trace, by id (sent only while tracing is on). */
  traceparents: z.record(txId, traceparent).optional(),
});
export type DecisionBatchRequest = z.infer<typeof decisionBatchRequest>;

export interface ItemError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** One item's vote in a batch prepare's answer (`{ votes: BatchVote[] }`, in the request's order). */
export type BatchVote = { txId: string; vote: 'yes'; request_id: string } | { txId: string; vote: 'no'; error: ItemError };

/** One item's result in a batch decision's answer (`{ results: BatchDecision[] }`, in the request's order). */
export type BatchDecision = { txId: string; ack: true; transaction: ParticipantTransaction } | { txId: string; ack: false; error: ItemError };
