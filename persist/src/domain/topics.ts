// Who may do what with a topic: a deleted or missing topic takes nothing; only its creator deletes
// it or publishes to it.
import { createError } from '@notify/lib';

/** What the rules need of a topic. */
export interface TopicState {
  creatorId: string;
  deletedAt: Date | null;
}

/** The topic, if it exists and is not deleted; NOT_FOUND otherwise. */
export function liveTopic<T extends { deletedAt: Date | null }>(topic: T | null | undefined, topicId: string): T {
  if (!topic || topic.deletedAt) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId } });
  return topic;
}

/** Throws unless `userId` may delete the topic: it is live and they created it. */
export function checkDelete(topic: TopicState | undefined, userId: string, topicId: string): void {
  if (liveTopic(topic, topicId).creatorId !== userId) throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may delete it', details: { topicId } });
}

/** Throws unless `publisherId` may publish to the topic: it is live and they created it. */
export function checkPublish(topic: TopicState | undefined, publisherId: string, topicId: string): void {
  if (liveTopic(topic, topicId).creatorId !== publisherId) throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may publish to it', details: { topicId } });
}

/** Throws unless `userId` may see the topic's subscribers by name: it is live and they created it. */
export function checkSubscriberList(topic: TopicState | null, userId: string, topicId: string): void {
  if (liveTopic(topic, topicId).creatorId !== userId) throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may list its subscribers', details: { topicId } });
}
