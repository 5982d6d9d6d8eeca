// Subscriptions table access: subscribe, unsubscribe, a topic's subscribers in pages, and how many
// of a publication's recipients are subscribed.
import type { Database, Tx } from './database.ts';

export interface SubscriptionRow {
  topicId: string;
  userId: string;
  createdAt: Date;
}

/**
 * Subscribes a user to a topic, in one transaction that first share-locks the topic's row (a
 * concurrent delete waits). `check` sees the locked row (undefined when there is none) and throws
 * to refuse. An existing subscription is returned as it is, with `created: false`.
 */
export async function subscribe(
  db: Database,
  topicId: string,
  userId: string,
  userName: string,
  check: (topic: { deletedAt: Date | null } | undefined) => void,
): Promise<{ subscription: SubscriptionRow; created: boolean }> {
  return db.$transaction(async (tx) => {
    const [topic] = await tx.$queryRawUnsafe<{ deleted_at: Date | null }[]>('SELECT deleted_at FROM topics WHERE id = $1::uuid FOR SHARE', topicId);
    check(topic && { deletedAt: topic.deleted_at });
    const key = { topicId_userId: { topicId, userId } };
    const existing = await tx.subscription.findUnique({ where: key });
    // Subscribing again keeps the subscription and takes the name the user has now (if one is given).
    if (existing) return { subscription: !userName || existing.userName === userName ? existing : await tx.subscription.update({ where: key, data: { userName } }), created: false };
    return { subscription: await tx.subscription.upsert({ where: key, create: { topicId, userId, userName }, update: {} }), created: true };
  });
}

/** Removes a user's subscription to a topic; false when there was none. */
export async function unsubscribe(db: Database, topicId: string, userId: string): Promise<boolean> {
  const { count } = await db.subscription.deleteMany({ where: { topicId, userId } });
  return count > 0;
}

/** Up to `take` of a topic's subscribers' ids in id order, after `afterUserId`. */
export async function subscriberPage(db: Database, topicId: string, afterUserId: string | undefined, take: number): Promise<string[]> {
  const rows = await db.subscription.findMany({
    where: { topicId, ...(afterUserId ? { userId: { gt: afterUserId } } : {}) },
    orderBy: { userId: 'asc' },
    take,
    select: { userId: true },
  });
  return rows.map((row) => row.userId);
}

/** Up to `take` of a topic's subscribers with their names, in id order, after `afterUserId`. */
export async function subscriberNamePage(db: Database, topicId: string, afterUserId: string | undefined, take: number): Promise<{ id: string; name: string }[]> {
  const rows = await db.subscription.findMany({
    where: { topicId, ...(afterUserId ? { userId: { gt: afterUserId } } : {}) },
    orderBy: { userId: 'asc' },
    take,
    select: { userId: true, userName: true },
  });
  return rows.map((row) => ({ id: row.userId, name: row.userName }));
}

/** For each publication (by notification id), in one query: how many of its recipients are subscribed to its topic, and how many subscribers the topic has. */
export async function countSubscribed(
  tx: Tx,
  publications: { notificationId: string; topicId: string; recipients: string[] }[],
): Promise<Map<string, { subscribed: number; total: number }>> {
  const rows = await tx.$queryRawUnsafe<{ id: string; subscribed: number; total: number }[]>(
    `SELECT item.id::text,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id AND s.user_id = ANY(item.recipients))::int AS subscribed,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id)::int AS total
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, recipients text[])`,
    JSON.stringify(publications.map((publication) => ({ id: publication.notificationId, topic_id: publication.topicId, recipients: publication.recipients }))),
  );
  return new Map(rows.map((row) => [row.id, { subscribed: row.subscribed, total: row.total }]));
}
