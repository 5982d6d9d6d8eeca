// The schemas persist's own code names (from its contract in the kit, which its callers compile
// against; its routes take theirs from the contract directly) and the topic as it answers it.
import type { z } from 'zod';
import type { topicShape } from '@notify/lib/contracts';

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
