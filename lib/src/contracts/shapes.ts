// Answer shapes more than one API shares: the gateway hands persist's topics, subscriptions and
// notifications to its clients as they are, so the client contract's types are these too.
import { z } from 'zod';

const isoTime = z.string();

export const topicShape = z.object({ id: z.string(), name: z.string(), description: z.string(), creatorId: z.string(), createdAt: isoTime });
export const subscriptionShape = z.object({ topicId: z.string(), userId: z.string(), createdAt: isoTime });
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
