// The two-phase-commit wire protocol of the contract: participant requests and answers, and the
// coordinator's answer to "what became of transaction X?".
import { z } from 'zod';

/** Transaction ids: the coordinator's, or a seed-route caller's; opaque, URL-safe. */
export const txId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1 to 128 letters, digits or _ . : -');

export const prepareRequest = z.strictObject({
  txId,
  action: z.string().min(1).max(100),
  payload: z.unknown(),
  /** How long (ms) the participant holds the prepared change before asking the coordinator. */
  timeoutMs: z.number().int().min(1).max(3_600_000),
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

/** What the coordinator answers at `GET /api/2pc/:txId`: still deciding, or its durable decision. 404: no record. */
export const coordinatorAnswer = z.object({
  txId,
  state: z.enum(['pending', 'committed', 'aborted']),
});
export type CoordinatorAnswer = z.infer<typeof coordinatorAnswer>;

/** The DDL of the participant state table; every participant's first migration creates it. */
export const PARTICIPANT_TABLE = 'two_phase_transactions';
