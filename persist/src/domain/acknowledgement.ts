// The rules of notification.ack's and notification.read_all's prepare: why an acknowledgement that
// could not be staged votes no.
import { createError, type AppError } from '@notify/lib';

/**
 * The refusal for one acknowledgement the store could not claim, given what it found: NOT_FOUND
 * when the user has no delivery of a committed notification, CONFLICT when it is acknowledged or
 * being acknowledged already.
 */
export function ackRefusal(notificationId: string, delivery: { ackState: string; notificationState: string } | null): AppError {
  if (!delivery || delivery.notificationState !== 'committed') {
    return createError({ code: 'NOT_FOUND', message: 'no such notification for this user', details: { notificationId } });
  }
  return createError({
    code: 'CONFLICT',
    message: delivery.ackState === 'acked' ? 'already acknowledged' : 'an acknowledgement is already in progress',
    details: { notificationId, ackState: delivery.ackState },
  });
}

/** Throws (CONFLICT) unless every acknowledgement of a batch was claimed. */
export function checkBatchClaimed(claimed: number, wanted: number): void {
  if (claimed !== wanted) throw createError({ code: 'CONFLICT', message: 'some acknowledgements of the batch cannot be staged' });
}

/**
 * Throws (CONFLICT) unless marking all read claimed exactly the number the gateway counted (and
 * counter will take off): any other number means the deliveries changed since the count.
 */
export function checkReadAllClaimed(claimed: number, payload: { expected: number; userId: string; topicId?: string | undefined }): void {
  if (claimed !== payload.expected) {
    throw createError({
      code: 'CONFLICT',
      message: 'the unread notifications changed since they were counted; count them again',
      details: { expected: payload.expected, found: claimed, ...(payload.topicId ? { topicId: payload.topicId } : {}) },
    });
  }
}
