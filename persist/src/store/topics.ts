// Topics table access: create, read, list in pages, soft delete, and the row locks a delete, a
// subscription or a publication takes so they do not interleave.
import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '@notify/lib/db';
import type { Database, Tx } from './database.ts';
import type { TimeKey } from './pagination.ts';

export interface TopicRow {
  id: string;
  name: string;
  description: string;
  creatorId: string;
  creatorName: string;
  createdAt: Date;
  deletedAt: Date | null;
}

/** A topic as lists and reads answer it: with its subscriber count, counted in the same query. */
export interface CountedTopicRow extends TopicRow {
  subscriberCount: number;
}

/**
 * The columns of a counted topic `t`: each topic's subscribers are counted by a subquery on the
 * subscriptions' primary key (topic_id, user_id), in the statement that reads the topics, so a page
 * costs one query whatever its length and never aggregates other topics' subscriptions.
 */
const COUNTED_TOPIC = `t.id::text AS id, t.name, t.description, t.creator_id AS "creatorId", t.creator_name AS "creatorName",
  t.created_at AS "createdAt", t.deleted_at AS "deletedAt", (SELECT count(*)::int FROM subscriptions s WHERE s.topic_id = t.id) AS "subscriberCount"`;

/** What a locked topic row tells the rules that decide on it. */
export interface LockedTopic {
  creatorId: string;
  deletedAt: Date | null;
}

/** Inserts a topic with a new id; undefined when its name is taken (a deleted topic's name stays taken). */
export async function createTopic(db: Database, input: { name: string; description: string; creatorId: string; creatorName: string }): Promise<CountedTopicRow | undefined> {
  try {
    const topic = await db.topic.create({ data: { id: randomUUID(), name: input.name, description: input.description, creatorId: input.creatorId, creatorName: input.creatorName } });
    // A new topic has no subscriber yet.
    return { ...topic, subscriberCount: 0 };
  } catch (error) {
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}

/** A topic by id, deleted or not; null when there is none. */
export async function findTopic(db: Database, id: string): Promise<CountedTopicRow | null> {
  const [row] = await db.$queryRawUnsafe<CountedTopicRow[]>(`SELECT ${COUNTED_TOPIC} FROM topics t WHERE t.id = $1::uuid`, id);
  return row ?? null;
}

/**
 * Up to `take` topics not deleted, newest first, after `after`: all of them, or only those
 * `userId` created (`mine`) or is subscribed to (`subscribed`), or both; each with `userId`'s
 * subscription (none or one).
 */
export function listTopics(
  db: Database,
  query: { userId: string; mine?: boolean; subscribed?: boolean; after: TimeKey | undefined; take: number },
): Promise<(CountedTopicRow & { subscription: { muted: boolean; email: boolean } | null })[]> {
  const { userId, mine, subscribed, after, take } = query;
  const values: unknown[] = [take, userId];
  const where = ['t.deleted_at IS NULL'];
  const value = (v: unknown) => `$${values.push(v)}`;
  if (mine) where.push('t.creator_id = $2');
  if (subscribed) where.push('EXISTS (SELECT 1 FROM subscriptions m WHERE m.topic_id = t.id AND m.user_id = $2)');
  if (after) {
    const at = value(after.createdAt);
    where.push(`(t.created_at < ${at}::timestamptz OR (t.created_at = ${at}::timestamptz AND t.id < ${value(after.id)}::uuid))`);
  }
  // The user's own subscription (its primary key), with its preferences: null when not subscribed.
  const subscription = `(SELECT json_build_object('muted', m.muted, 'email', m.email) FROM subscriptions m WHERE m.topic_id = t.id AND m.user_id = $2) AS subscription`;
  return db.$queryRawUnsafe(`SELECT ${COUNTED_TOPIC}, ${subscription} FROM topics t WHERE ${where.join(' AND ')} ORDER BY t.created_at DESC, t.id DESC LIMIT $1`, ...values);
}

/**
 * Soft-deletes a topic and drops its subscriptions, in one transaction whose first statement locks
 * the topic's row (so two deletes, or a delete and a subscribe, do not interleave). `check` sees the
 * locked row (undefined when there is none) and throws to refuse; then nothing is written. The
 * topic's notifications stay readable and ackable, so unread counts stay true.
 */
export async function deleteTopic(db: Database, id: string, check: (topic: LockedTopic | undefined) => void): Promise<void> {
  await db.$transaction(async (tx) => {
    const [row] = await tx.$queryRawUnsafe<{ creator_id: string; deleted_at: Date | null }[]>('SELECT creator_id, deleted_at FROM topics WHERE id = $1::uuid FOR UPDATE', id);
    check(row && { creatorId: row.creator_id, deletedAt: row.deleted_at });
    await tx.topic.update({ where: { id }, data: { deletedAt: new Date() } });
    await tx.subscription.deleteMany({ where: { topicId: id } });
  });
}

/**
 * Share-locks the topics (in id order: give them sorted, so concurrent publications queue and
 * never deadlock) for the rest of the transaction, so a concurrent delete waits; returns them by
 * id. A missing id is missing from the map.
 */
export async function lockTopicsForShare(tx: Tx, sortedIds: string[]): Promise<Map<string, LockedTopic>> {
  const rows = await tx.$queryRawUnsafe<{ id: string; creator_id: string; deleted_at: Date | null }[]>(
    'SELECT id::text, creator_id, deleted_at FROM topics WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE',
    sortedIds,
  );
  return new Map(rows.map((row) => [row.id, { creatorId: row.creator_id, deletedAt: row.deleted_at }]));
}
