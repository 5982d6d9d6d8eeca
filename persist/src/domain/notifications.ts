// Who may read what of a notification: a user reads only their own feed; a notification's trace is
// for its publisher (every event) and its recipients (the notification's own life and their own
// delivery events, never another recipient's); events are recorded only for a committed delivery.
import { createError } from '@notify/lib';

/** Throws (FORBIDDEN) unless the acting user asks for their own feed. */
export function checkOwnFeed(actingUserId: string, requestedUserId: string): void {
  if (actingUserId !== requestedUserId) throw createError({ code: 'FORBIDDEN', message: 'a user reads only their own notifications' });
}

/** The notification, if it is committed; NOT_FOUND otherwise (a pending one does not exist yet for readers). */
export function committedNotification<T extends { state: string }>(notification: T | null, notificationId: string): T {
  if (!notification || notification.state !== 'committed') throw createError({ code: 'NOT_FOUND', message: 'no such notification', details: { notificationId } });
  return notification;
}

/** Throws (FORBIDDEN) unless the acting user published the notification. */
export function checkPublisher(notification: { publisherId: string }, userId: string): void {
  if (notification.publisherId !== userId) throw createError({ code: 'FORBIDDEN', message: 'only its publisher may read a notification this way' });
}

/**
 * The notification, for its publisher only: anyone else (and a missing id) hears NOT_FOUND, so an
 * id reveals nothing of another user's publications.
 */
export function ownPublication<T extends { publisherId: string }>(notification: T | null, userId: string, notificationId: string): T {
  if (!notification || notification.publisherId !== userId) throw createError({ code: 'NOT_FOUND', message: 'no such publication of yours', details: { notificationId } });
  return notification;
}

/**
 * Whose events of a notification `userId` may trace: all (undefined) for its publisher, their own
 * (their id) for a recipient; FORBIDDEN for anyone else.
 */
export function traceScope(notification: { publisherId: string }, userId: string, isRecipient: boolean): string | undefined {
  if (notification.publisherId === userId) return undefined;
  if (!isRecipient) throw createError({ code: 'FORBIDDEN', message: 'only its publisher and recipients may trace a notification' });
  return userId;
}

/** Throws (NOT_FOUND) unless there is a delivery of a committed notification to record an event of. */
export function checkCommittedDelivery(delivery: { notificationState: string } | null, notificationId: string): void {
  if (!delivery || delivery.notificationState !== 'committed') {
    throw createError({ code: 'NOT_FOUND', message: 'no committed notification for this recipient', details: { notificationId } });
  }
}

/** Throws (NOT_FOUND) when some recipients of a batch have no delivery of the committed notification: then none of its events is recorded. */
export function checkAllRecipientsKnown(unknown: string[], notificationId: string): void {
  if (unknown.length) {
    throw createError({
      code: 'NOT_FOUND',
      message: 'no committed notification for some recipients; nothing was recorded',
      details: { notificationId, recipients: unknown.slice(0, 20), unknownCount: unknown.length },
    });
  }
}

/** The user's delivery of a committed notification; NOT_FOUND when there is none (another user's notification looks the same as no notification). */
export function ownDelivery<T>(delivery: T | null, notificationId: string): T {
  if (!delivery) throw createError({ code: 'NOT_FOUND', message: 'no such notification for this user', details: { notificationId } });
  return delivery;
}
