// Request schemas (persist's contract in the kit, which its callers compile against) and the
// shapes persist answers with; handler types derive from the schemas.
import type { z } from 'zod';
import type { topicShape } from '@notify/lib/contracts';

export {
  ackPayload,
  createNotificationPayload,
  createTopicBody,
  eventBatchBody,
  eventBody,
  eventsOfManyBody,
  listNotificationsQuery,
  listTopicsQuery,
  notificationId,
  notificationParams,
  subscribersQuery,
  topicId,
  topicParams,
  userId,
  userParams,
  type AckPayload,
  type CreateNotificationPayload,
  type EventBody,
} from '@notify/lib/contracts';

export type TopicView = z.infer<typeof topicShape>;

export function topicView(topic: { id: string; name: string; description: string; creatorId: string; createdAt: Date }): TopicView {
  return { id: topic.id, name: topic.name, description: topic.description, creatorId: topic.creatorId, createdAt: topic.createdAt.toISOString() };
}
