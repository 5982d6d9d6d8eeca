// The rules of notification.create's prepare: which topics to lock, when to vote no, and what a
// yes stores (the notification pending, one delivery per recipient, a `prepared` event).
import { createError, REASON, type ActionItem } from '@notify/lib';
import type { CreateNotificationPayload } from './schemas.ts';
import { checkPublish, type TopicState } from './topics.ts';

/** The publications' topics, each once, sorted: every batch locks shared rows in the same order, so concurrent batches queue and never deadlock. */
export function topicsToLock(payloads: CreateNotificationPayload[]): string[] {
  return [...new Set(payloads.map((payload) => payload.topicId))].sort();
}

/** Throws (NOT_FOUND, FORBIDDEN) for the first publication whose topic is missing or deleted, or whose publisher did not create it. */
export function checkPublishers(payloads: CreateNotificationPayload[], topics: ReadonlyMap<string, TopicState>): void {
  for (const payload of payloads) checkPublish(topics.get(payload.topicId), payload.publisherId, payload.topicId);
}

/**
 * Throws (CONFLICT) for the first publication with a recipient not subscribed to its topic, or,
 * with `audience: 'subscribers'`, whose recipients are no longer the topic's whole subscriber list:
 * a subscription made after the publisher read the list makes it stale, and the gateway reads it
 * again rather than silently leaving someone out. `counts` is by notification id.
 */
export function checkRecipients(payloads: CreateNotificationPayload[], counts: ReadonlyMap<string, { subscribed: number; total: number }>): void {
  for (const payload of payloads) {
    const count = counts.get(payload.notificationId);
    if ((count?.subscribed ?? 0) !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'some recipients are not subscribed to the topic', details: { topicId: payload.topicId } });
    }
    if (payload.audience === 'subscribers' && count?.total !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: payload.topicId, reason: REASON.SUBSCRIBERS_CHANGED, subscribers: count?.total ?? 0 } });
    }
  }
}

/** What a yes vote stores for the publications, each in one insert: the notifications (pending), their deliveries and their `prepared` events. */
export function stagedPublications(items: ActionItem<CreateNotificationPayload>[]) {
  return {
    notifications: items.map(({ payload, context }) => ({
      id: payload.notificationId,
      topicId: payload.topicId,
      publisherId: payload.publisherId,
      publisherName: payload.publisherName,
      title: payload.title,
      body: payload.body,
      email: payload.email,
      url: payload.url,
      txId: context.txId,
    })),
    deliveries: items.flatMap(({ payload }) => payload.recipients.map((recipientId) => ({ notificationId: payload.notificationId, recipientId }))),
    prepared: items.map(({ payload, context }) => ({ notificationId: payload.notificationId, txId: context.txId, recipients: payload.recipients.length })),
  };
}
