// persist's API: topics, subscriptions, a user's notifications, a notification's trace and the
// delivery events others report, plus its two-phase-commit actions.
import { z } from 'zod';
import { defineContract, defineParticipantAction, defineRoute } from './contract.ts';
import { httpUrl, notificationShape, ok, publishedContentShape, publishedNotificationShape, subscriberShape, subscriptionPreferencesShape, subscriptionShape, topicShape, traceEventShape, traceIdShape, userPreferencesShape } from './shapes.ts';

/** User ids come from auth (uuid), named in the gateway's signed credential; persist only needs them opaque. */
export const userId = z.string().min(1).max(128);
export const topicId = z.uuid({ message: 'must be a topic id (uuid)' });
export const notificationId = z.uuid({ message: 'must be a notification id (uuid)' });

/** A yes/no query flag: text on the wire, a boolean for a caller in code. */
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1')]);
const limit = z.coerce.number().int().min(1).max(100).default(20);
const cursor = z.string().min(1).max(500).optional();

/** A person's name as the gateway knows it from the session (auth allows 1-100 characters). */
const personName = z.string().max(100);

export const createTopicBody = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100),
  description: z.string().trim().max(1_000).default(''),
  /** The creator's name, kept with the topic. */
  creatorName: personName.default(''),
});
/** The subscriber's name, kept with the subscription so the topic's creator can pick followers; the body may be left out (no name). */
export const subscribeBody = z.strictObject({ name: personName.default('') }).nullish();
export const topicParams = z.object({ id: topicId });
export const notificationParams = z.object({ id: notificationId });
export const listTopicsQuery = z.strictObject({ mine: flag.optional(), subscribed: flag.optional(), limit, cursor });
/** The gateway reads a topic's whole subscriber list before publishing, so its pages may be large. */
export const subscribersQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(20), cursor });
/** A page of the topic's subscribers with their names, for its creator: at most 100 per page. */
export const subscriberNamesQuery = z.strictObject({ limit, cursor });
/** `archived`: false (the default) leaves archived notifications out, true lists only them. */
export const listNotificationsQuery = z.strictObject({ unreadOnly: flag.optional(), topicId: topicId.optional(), archived: flag.optional(), limit, cursor });
export const unreadQuery = z.strictObject({ topicId: topicId.optional() });
export const archiveBody = z.strictObject({ archived: z.boolean() });
export const userParams = z.object({ userId });
export const eventBody = z.strictObject({
  type: z.enum(['delivered', 'emailed']),
  recipientId: userId,
  detail: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean()])).optional(),
});
export type EventBody = z.infer<typeof eventBody>;
/** The gateway reports the deliveries of many notifications (every push of a turn) at once. */
export const eventsOfManyBody = z.strictObject({ events: z.array(eventBody.extend({ notificationId })).min(1).max(10_000) });
/** The gateway reports the deliveries of one notification to all its connections at once. */
export const eventBatchBody = z.strictObject({ events: z.array(eventBody).min(1).max(10_000) });

// ---- Subscriber preferences ----
/** One topic's preferences of the acting subscriber; keys left out keep their value. */
export const subscriptionPreferencesBody = z.strictObject({ muted: z.boolean().optional(), email: z.boolean().optional() });
/** More than `threshold` notification emails within `windowMinutes`: the rest come as one digest at the window's end. */
export const digestSettings = z.strictObject({
  threshold: z.number().int().min(1).max(1_000),
  // Fractions allowed (0.1 minute = 6 s); a week at most.
  windowMinutes: z.number().min(0.1).max(10_080),
});
/** The acting user's email preferences; keys left out keep their value (`digest: null` turns the digest off). */
export const userPreferencesBody = z.strictObject({ email: z.boolean().optional(), digest: digestSettings.nullable().optional() });
/** What the mailer asks at send time: the user's email preferences, and their subscription to the email's topic. */
export const emailPreferencesQuery = z.strictObject({ topicId: topicId.optional() });
export const emailPreferencesShape = userPreferencesShape.extend({ subscription: subscriptionPreferencesShape.nullable() });

const distinctIds = (ids: string[]) => new Set(ids).size === ids.length;

export const createNotificationPayload = z.strictObject({
  notificationId,
  topicId,
  publisherId: userId,
  /** The publisher's name at publication, shown with the notification (the gateway sends its session's). */
  publisherName: personName.default(''),
  title: z.string().trim().min(1, 'must not be empty').max(200),
  body: z.string().max(10_000),
  email: z.boolean().default(false),
  /** The action link, kept with the notification. */
  url: httpUrl.nullable().default(null),
  recipients: z
    .array(userId)
    .max(100_000)
    .refine((ids) => new Set(ids).size === ids.length, 'recipients must not repeat'),
  // `subscribers`: the publisher claims recipients is the topic's whole subscriber list, and
  // prepare votes no if it no longer is (so a cached, stale list aborts instead of missing someone).
  // `listed`: recipients is any subset of the subscribers.
  audience: z.enum(['subscribers', 'listed']).default('listed'),
  /**
   * Set by a publication made with an idempotency key (whose notification id derives from the
   * key): a digest of the request, kept so a repeat of the key can be checked against it. A
   * second prepare of the same notification id votes no (PUBLICATION_EXISTS).
   */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest').optional(),
  // The recipients who muted the topic (stored read, not counted) and, with `email`, those who want
  // no email of it (for this topic or at all), as the publisher read them: prepare votes no
  // (SUBSCRIBERS_CHANGED) when they are not exactly the current ones among the recipients.
  muted: z.array(userId).max(100_000).refine(distinctIds, 'muted must not repeat').default([]),
  emailOptOut: z.array(userId).max(100_000).refine(distinctIds, 'emailOptOut must not repeat').default([]),
  /** The trace the publication was made in (W3C trace id), kept to find its spans; absent while tracing is off. */
  traceId: traceIdShape.optional(),
});
export type CreateNotificationPayload = z.infer<typeof createNotificationPayload>;

/** `archive`: the acknowledgement also archives the notification (archiving an unread one reads it). */
export const ackPayload = z.strictObject({ notificationId, userId, archive: z.boolean().default(false) });
export type AckPayload = z.infer<typeof ackPayload>;

/** A publication as persist holds it: `pending` while its transaction is undecided, then `committed`. */
export const publicationShape = publishedContentShape.omit({ id: true }).extend({
  state: z.enum(['pending', 'committed']),
  fingerprint: z.string().nullable(),
  notificationId: z.string(),
  recipients: z.array(z.string()),
});
export type Publication = z.infer<typeof publicationShape>;
/**
 * Marks read every unread delivery of the user (of one topic, with `topicId`) whose notification
 * was committed at or before `cutoff`, exactly `expected` of them: prepare claims them and votes no
 * (CONFLICT) if it finds another number, so counter, told the same number, subtracts exactly what
 * persist marks.
 */
export const readAllPayload = z.strictObject({
  userId,
  topicId: topicId.optional(),
  cutoff: z.iso.datetime({ offset: true }),
  expected: z.number().int().min(1).max(10_000_000),
});
export type ReadAllPayload = z.infer<typeof readAllPayload>;

export const persistContract = defineContract('persist', {
  createTopic: defineRoute({ method: 'POST', path: '/api/topics', body: createTopicBody, response: topicShape, idempotent: false }),
  listTopics: defineRoute({ method: 'GET', path: '/api/topics', query: listTopicsQuery, response: z.object({ topics: z.array(topicShape), nextCursor: z.string().nullable() }), idempotent: true }),
  getTopic: defineRoute({ method: 'GET', path: '/api/topics/:id', params: topicParams, response: topicShape, idempotent: true }),
  deleteTopic: defineRoute({ method: 'DELETE', path: '/api/topics/:id', params: topicParams, response: ok, idempotent: false }),
  /** Subscribing twice answers the existing subscription, so a retry is safe. */
  subscribe: defineRoute({ method: 'POST', path: '/api/topics/:id/subscriptions', params: topicParams, body: subscribeBody, response: subscriptionShape, idempotent: true }),
  unsubscribe: defineRoute({ method: 'DELETE', path: '/api/topics/:id/subscriptions', params: topicParams, response: ok, idempotent: false }),
  listSubscribers: defineRoute({
    method: 'GET',
    path: '/api/topics/:id/subscribers',
    params: topicParams,
    query: subscribersQuery,
    // `muted` and `emailOptOut`: those of this page's subscribers who muted the topic, and who want
    // no email of it (this topic's or any).
    response: z.object({
      topic: topicShape,
      subscribers: z.array(z.string()),
      muted: z.array(z.string()).default([]),
      emailOptOut: z.array(z.string()).default([]),
      nextCursor: z.string().nullable(),
    }),
    idempotent: true,
  }),
  /** The acting user's preferences for one topic they follow; 404 when they do not. */
  setSubscriptionPreferences: defineRoute({ method: 'PATCH', path: '/api/topics/:id/subscriptions', params: topicParams, body: subscriptionPreferencesBody, response: subscriptionShape, idempotent: true }),
  getUserPreferences: defineRoute({ method: 'GET', path: '/api/preferences', response: userPreferencesShape, idempotent: true }),
  setUserPreferences: defineRoute({ method: 'PUT', path: '/api/preferences', body: userPreferencesBody, response: userPreferencesShape, idempotent: true }),
  /** For the mailer at send time: a user's email preferences and their subscription to `topicId`. */
  emailPreferences: defineRoute({ method: 'GET', path: '/api/users/:userId/email-preferences', params: userParams, query: emailPreferencesQuery, response: emailPreferencesShape, idempotent: true }),
  /** The topic's subscribers with their names, in pages; for the topic's creator only. */
  listSubscriberNames: defineRoute({
    method: 'GET',
    path: '/api/topics/:id/subscriber-names',
    params: topicParams,
    query: subscriberNamesQuery,
    response: z.object({ subscribers: z.array(subscriberShape), nextCursor: z.string().nullable() }),
    idempotent: true,
  }),
  /** How many of the user's committed notifications are unread now, and the moment (`cutoff`) that count is of. */
  countUnread: defineRoute({
    method: 'GET',
    path: '/api/users/:userId/notifications/unread',
    params: userParams,
    query: unreadQuery,
    response: z.object({ unread: z.number(), cutoff: z.string() }),
    idempotent: true,
  }),
  /**
   * Archives or unarchives one of the user's notifications. Archiving one not yet read changes
   * nothing and answers `archived: false, read: false`: the gateway then archives it with an
   * acknowledgement (a two-phase commit), so the unread count stays exact.
   */
  setArchived: defineRoute({
    method: 'PUT',
    path: '/api/notifications/:id/archived',
    params: notificationParams,
    body: archiveBody,
    response: z.object({ archived: z.boolean(), read: z.boolean() }),
    idempotent: true,
  }),
  listNotifications: defineRoute({
    method: 'GET',
    path: '/api/users/:userId/notifications',
    params: userParams,
    query: listNotificationsQuery,
    response: z.object({ notifications: z.array(notificationShape), nextCursor: z.string().nullable() }),
    idempotent: true,
  }),
  /**
   * A publication as its publisher made it, pending or committed, with its recipients: what the
   * gateway answers a publish repeated with the same idempotency key. 404 for anyone else.
   */
  getPublication: defineRoute({
    method: 'GET',
    path: '/api/notifications/:id/publication',
    params: notificationParams,
    response: publicationShape,
    idempotent: true,
  }),
  /** A committed notification for its publisher only (FORBIDDEN for anyone else), with its recipient and acknowledgement counts. */
  getNotification: defineRoute({ method: 'GET', path: '/api/notifications/:id', params: notificationParams, response: publishedNotificationShape, idempotent: true }),
  traceNotification: defineRoute({
    method: 'GET',
    path: '/api/notifications/:id/trace',
    params: notificationParams,
    // traceId: the trace the publication was made in, null when it was made with tracing off.
    response: z.object({ notificationId: z.string(), traceId: z.string().nullable(), events: z.array(traceEventShape) }),
    idempotent: true,
  }),
  /** `emailed` is kept once per recipient, so a repeat answers `duplicate: true`. */
  recordEvent: defineRoute({
    method: 'POST',
    path: '/api/notifications/:id/events',
    params: notificationParams,
    body: eventBody,
    response: z.object({ ok: z.literal(true), duplicate: z.boolean().optional() }),
    idempotent: false,
  }),
  recordEventBatch: defineRoute({ method: 'POST', path: '/api/notifications/:id/events/batch', params: notificationParams, body: eventBatchBody, response: z.object({ recorded: z.number() }), idempotent: false }),
  recordEvents: defineRoute({ method: 'POST', path: '/api/events/batch', body: eventsOfManyBody, response: z.object({ recorded: z.number(), skipped: z.number() }), idempotent: false }),
});

export const persistActions = {
  notificationCreate: defineParticipantAction('persist', 'notification.create', createNotificationPayload),
  notificationAck: defineParticipantAction('persist', 'notification.ack', ackPayload),
  notificationReadAll: defineParticipantAction('persist', 'notification.read_all', readAllPayload),
};
