// Answer shapes more than one API shares: the gateway hands persist's topics, subscriptions and
// notifications to its clients as they are, so the client contract's types are these too.
import { z } from 'zod';

const isoTime = z.string();

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
});
export const subscriptionShape = z.object({ topicId: z.string(), userId: z.string(), createdAt: isoTime });
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
});
/** A subscriber as a topic's creator sees it: the id and the name given when subscribing. */
export const subscriberShape = z.object({ id: z.string(), name: z.string() });
export const traceEventShape = z.object({
  type: z.enum(['prepared', 'committed', 'delivered', 'emailed', 'acked']),
  at: isoTime,
  recipientId: z.string().nullable(),
  detail: z.unknown(),
});
export const ok = z.object({ ok: z.literal(true) });

/** An action link: http or https only (never `javascript:`, `data:`, …), at most 2,000 characters. */
export const httpUrl = z
  .string()
  .max(2_000)
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }));
