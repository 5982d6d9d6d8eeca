// Answer shapes more than one API shares: the gateway hands persist's topics, subscriptions and
// notifications to its clients as they are, so the client contract's types are these too.
import { z } from 'zod';

const isoTime = z.string();

/** A subscriber's preferences for one topic: `muted` (no push, no unread, no email; the feed still has it, read) and `email` (false: no email for this topic). */
export const subscriptionPreferencesShape = z.object({ muted: z.boolean(), email: z.boolean() });
export const topicShape = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  creatorId: z.string(),
  createdAt: isoTime,
  /** In lists: the caller's subscription to the topic with its preferences, null when not subscribed. */
  subscription: subscriptionPreferencesShape.nullable().optional(),
});
export const subscriptionShape = z.object({ topicId: z.string(), userId: z.string(), createdAt: isoTime, ...subscriptionPreferencesShape.shape });
/** A user's email preferences across topics: `email` false is no notification email at all; `digest` null is off. */
export const digestShape = z.object({ threshold: z.number(), windowMinutes: z.number() });
export const userPreferencesShape = z.object({ email: z.boolean(), digest: digestShape.nullable() });
export const notificationShape = z.object({
  id: z.string(),
  topicId: z.string(),
  publisherId: z.string(),
  title: z.string(),
  body: z.string(),
  email: z.boolean(),
  createdAt: isoTime,
  read: z.boolean(),
  ackedAt: isoTime.nullable(),
  /** Stored read at creation because the recipient had muted the topic (no push, no unread, no email). */
  muted: z.boolean().optional(),
});
/** A notification as its publisher sees it: the content and how far it got with its recipients. */
export const publishedNotificationShape = z.object({
  id: z.string(),
  topicId: z.string(),
  publisherId: z.string(),
  title: z.string(),
  body: z.string(),
  email: z.boolean(),
  createdAt: isoTime,
  /** Recipients it was committed to. */
  recipients: z.number(),
  /** Recipients who acknowledged it. */
  acknowledged: z.number(),
});
export const traceEventShape = z.object({
  type: z.enum(['prepared', 'committed', 'delivered', 'emailed', 'acked']),
  at: isoTime,
  recipientId: z.string().nullable(),
  detail: z.unknown(),
});
export const ok = z.object({ ok: z.literal(true) });
