// What publishes and acks share once the coordinator has answered: the refusal a client hears when
// a transaction was aborted, and a bounded wait for phase 2 so the change is readable when it hears back.
import type { FastifyBaseLogger } from 'fastify';
import { createError, isErrorCode, type AppError, type Vote } from '@notify/lib';

/** The error a refused transaction answers with: persist's reason first (it knows the domain), else counter's. */
export function refusalOf(votes: Vote[]): AppError {
  const no = votes.find((vote) => vote.vote === 'no' && vote.service === 'persist') ?? votes.find((vote) => vote.vote === 'no');
  const error = no?.error;
  return createError({
    code: error && isErrorCode(error.code) ? error.code : 'INTERNAL',
    message: error?.message ?? 'the transaction was aborted',
    details: { ...error?.details, participant: no?.service, aborted: true },
  });
}

/** Waits for phase 2 (so the change is readable when the caller hears back), at most `waitMs`. */
export async function settle(done: Promise<boolean>, waitMs: number, log: FastifyBaseLogger): Promise<void> {
  // A plain timer, cleared: an aborted sleep would build an AbortError (with its stack) per call.
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
  await Promise.race([done.catch((error: unknown) => log.error({ err: error }, 'phase 2 bookkeeping failed')), waited]);
  clearTimeout(timer);
}
