// The rules of counter's acknowledgements: a user's unread count never goes below zero, counting
// the decrements already staged by acknowledgements not yet decided.
import { createError } from '@notify/lib';

/** The users whose counters a batch locks, each once, sorted: concurrent batches lock in the same order, so they queue and never deadlock. */
export function usersToLock(userIds: string[]): string[] {
  return [...new Set(userIds)].sort();
}

/**
 * Throws (CONFLICT) unless one more acknowledgement fits: the user's committed unread count plus
 * the (negative) decrements already staged leaves at least one.
 */
export function checkAck(userId: string, unread: number, stagedDecrements: number): void {
  if (unread + stagedDecrements < 1) throw createError({ code: 'CONFLICT', message: 'nothing unread to acknowledge', details: { userId, unread } });
}

/**
 * Throws (CONFLICT) at the first acknowledgement of a batch (one user id each, in order) that would
 * take its user's count below zero, given what each user has left (`available`: unread plus staged
 * decrements; a user missing has 0).
 */
export function checkAcks(userIds: string[], available: ReadonlyMap<string, number>): void {
  const left = new Map(available);
  for (const userId of userIds) {
    const remaining = (left.get(userId) ?? 0) - 1;
    if (remaining < 0) throw createError({ code: 'CONFLICT', message: 'nothing unread to acknowledge', details: { userId } });
    left.set(userId, remaining);
  }
}

/** Throws (CONFLICT) unless `count` can be taken off the user's count: `available` (unread plus the staged decrements) holds at least that many. */
export function checkTakeOff(userId: string, count: number, available: number): void {
  if (available < count) throw createError({ code: 'CONFLICT', message: 'fewer unread than the notifications to mark read', details: { userId, count, available } });
}
