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
  /** The creator's name when the topic was created. */
  creatorName: z.string(),
  createdAt: isoTime,
  /** How many users follow it, counted when it was read. */
  subscriberCount: z.number(),
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
  /** The publisher's name when it was published. */
  publisherName: z.string(),
  title: z.string(),
  body: z.string(),
  email: z.boolean(),
  /** The action link the publisher gave (http or https), or null. */
  url: z.string().nullable(),
  createdAt: isoTime,
  read: z.boolean(),
  ackedAt: isoTime.nullable(),
  /** Hidden from the recipient's feed unless asked for; an archived notification is always read. */
  archived: z.boolean(),
  /** Stored read at creation because the recipient had muted the topic (no push, no unread, no email). */
  muted: z.boolean().optional(),
});
/** A notification as its publisher sees it: the content and how far it got with its recipients. */
export const publishedContentShape = notificationShape.pick({ id: true, topicId: true, publisherId: true, publisherName: true, title: true, body: true, email: true, url: true, createdAt: true });
export const publishedNotificationShape = publishedContentShape.extend({
  /** Recipients it was committed to. */
  recipients: z.number(),
  /** Recipients who acknowledged it. */
  acknowledged: z.number(),
});
/** A subscriber as a topic's creator sees it: the id and the name given when subscribing. */
export const subscriberShape = z.object({ id: z.string(), name: z.string() });
export const traceEventShape = z.object({
  type: z.enum(['prepared', 'committed', 'delivered', 'emailed', 'acked']),
  at: isoTime,
  recipientId: z.string().nullable(),
  detail: z.unknown(),
});
/** A W3C trace id: 32 lowercase hex digits, not all zero. */
export const traceIdShape = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits')
  .refine((id) => !/^0+$/.test(id), 'must not be all zeros');
export const ok = z.object({ ok: z.literal(true) });

/** An action link: http or https only (never `javascript:`, `data:`, …), at most 2,000 characters. */
export const httpUrl = z
  .string()
  .max(2_000)
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }));
