// The schemas persist's own code names (from its contract in the kit, which its callers compile
// against; its routes take theirs from the contract directly) and the topic as it answers it.
import type { z } from 'zod';
import type { publishedContentShape, subscriptionShape, topicShape } from '@notify/lib/contracts';

export { createNotificationPayload, userId, type AckPayload, type CreateNotificationPayload, type ReadAllPayload } from '@notify/lib/contracts';

export type TopicView = z.infer<typeof topicShape>;

export function topicView(topic: { id: string; name: string; description: string; creatorId: string; creatorName: string; createdAt: Date; subscriberCount: number }): TopicView {
  return {
    id: topic.id,
    name: topic.name,
    description: topic.description,
    creatorId: topic.creatorId,
    creatorName: topic.creatorName,
    createdAt: topic.createdAt.toISOString(),
    subscriberCount: topic.subscriberCount,
  };
}

export type SubscriptionView = z.infer<typeof subscriptionShape>;

export function subscriptionView(subscription: { topicId: string; userId: string; createdAt: Date; muted: boolean; email: boolean }): SubscriptionView {
  return { topicId: subscription.topicId, userId: subscription.userId, createdAt: subscription.createdAt.toISOString(), muted: subscription.muted, email: subscription.email };
}

type PublishedContent = z.infer<typeof publishedContentShape>;

/** What a notification holds as published, as every answer shows it. */
export function publishedContent(notification: Omit<PublishedContent, 'createdAt'> & { createdAt: Date }): PublishedContent {
  const { id, topicId, publisherId, publisherName, title, body, email, url, createdAt } = notification;
  return { id, topicId, publisherId, publisherName, title, body, email, url, createdAt: createdAt.toISOString() };
}
