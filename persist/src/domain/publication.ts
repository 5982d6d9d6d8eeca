// The rules of notification.create's prepare: which topics to lock, when to vote no, and what a
// yes stores (the notification pending, one delivery per recipient, a `prepared` event).
import { createError, REASON, type ActionItem } from '@notify/lib';
import type { AudienceCount } from '../store/subscriptions.ts';
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
export function checkRecipients(payloads: CreateNotificationPayload[], counts: ReadonlyMap<string, AudienceCount>): void {
  for (const payload of payloads) {
    const count = counts.get(payload.notificationId);
    if ((count?.subscribed ?? 0) !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'some recipients are not subscribed to the topic', details: { topicId: payload.topicId } });
    }
    if (payload.audience === 'subscribers' && count?.total !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: payload.topicId, reason: REASON.SUBSCRIBERS_CHANGED, subscribers: count?.total ?? 0 } });
    }
    checkPreferences(payload, count!);
  }
}

/**
 * Throws (CONFLICT, SUBSCRIBERS_CHANGED) when the publisher's view of its recipients' preferences
 * is not the current one: who muted the topic, and (for an email publication) who wants no email.
 * A preference changed after the gateway read them makes its view stale, as a subscription does.
 */
function checkPreferences(payload: CreateNotificationPayload, count: AudienceCount): void {
  const same = (given: string[], current: string[]) => given.length === current.length && [...given].sort().every((id, i) => id === current[i]);
  const emailOptOut = payload.email ? payload.emailOptOut : [];
  if (!same(payload.muted, count.muted) || !same(emailOptOut, count.emailOptOut)) {
    throw createError({ code: 'CONFLICT', message: 'the subscribers’ preferences changed; read them again', details: { topicId: payload.topicId, reason: REASON.SUBSCRIBERS_CHANGED, subscribers: count.total } });
  }
}

/**
 * Throws (CONFLICT, PUBLICATION_EXISTS) when fewer notifications were stored than staged: one of
 * their ids is taken, by an earlier attempt of a publication repeated with its idempotency key.
 */
export function checkAllStored(stored: number, staged: number): void {
  if (stored !== staged) {
    throw createError({ code: 'CONFLICT', message: 'this publication is already stored (an earlier attempt with the same idempotency key)', details: { reason: REASON.PUBLICATION_EXISTS } });
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
      fingerprint: payload.fingerprint ?? null,
      traceId: payload.traceId ?? null,
      url: payload.url,
      txId: context.txId,
    })),
    deliveries: items.flatMap(({ payload }) => {
      const muted = new Set(payload.muted);
      return payload.recipients.map((recipientId) => ({ notificationId: payload.notificationId, recipientId, muted: muted.has(recipientId) }));
    }),
    prepared: items.map(({ payload, context }) => ({ notificationId: payload.notificationId, txId: context.txId, recipients: payload.recipients.length })),
  };
}
