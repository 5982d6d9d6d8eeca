// Subscriptions table access: subscribe, unsubscribe, a topic's subscribers in pages, and how many
// of a publication's recipients are subscribed.
import type { Database, Tx } from './database.ts';

export interface SubscriptionRow {
  topicId: string;
  userId: string;
  createdAt: Date;
  muted: boolean;
  email: boolean;
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

/** A subscriber as a publication needs them: muted, and whether they want this topic's email (its own switch and their global one). */
export interface SubscriberRow {
  userId: string;
  muted: boolean;
  email: boolean;
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

/** Up to `take` of a topic's subscribers in id order, after `afterUserId`, with their preferences. */
export async function subscriberPage(db: Database, topicId: string, afterUserId: string | undefined, take: number): Promise<SubscriberRow[]> {
  return db.$queryRawUnsafe<SubscriberRow[]>(
    `SELECT s.user_id AS "userId", s.muted, (s.email AND coalesce(p.email, true)) AS email
       FROM subscriptions s LEFT JOIN user_preferences p ON p.user_id = s.user_id
      WHERE s.topic_id = $1::uuid AND ($2::text IS NULL OR s.user_id > $2::text)
      ORDER BY s.user_id LIMIT $3`,
    topicId,
    afterUserId ?? null,
    take,
  );
}

/** What prepare checks a publication against: its recipients subscribed, the topic's subscribers, and (sorted) its recipients who muted the topic and who want no email of it (the latter only for an email publication). */
export interface AudienceCount {
  subscribed: number;
  total: number;
  muted: string[];
  emailOptOut: string[];
}

/** For each publication (by notification id), in one query: see AudienceCount. */
export async function countSubscribed(
  tx: Tx,
  publications: { notificationId: string; topicId: string; recipients: string[]; email: boolean }[],
): Promise<Map<string, AudienceCount>> {
  const rows = await tx.$queryRawUnsafe<({ id: string } & AudienceCount)[]>(
    `SELECT item.id::text,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id AND s.user_id = ANY(item.recipients))::int AS subscribed,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id)::int AS total,
            (SELECT coalesce(array_agg(s.user_id ORDER BY s.user_id), '{}') FROM subscriptions s
              WHERE s.topic_id = item.topic_id AND s.user_id = ANY(item.recipients) AND s.muted) AS muted,
            CASE WHEN item.email THEN
              (SELECT coalesce(array_agg(s.user_id ORDER BY s.user_id), '{}') FROM subscriptions s LEFT JOIN user_preferences p ON p.user_id = s.user_id
                WHERE s.topic_id = item.topic_id AND s.user_id = ANY(item.recipients) AND NOT (s.email AND coalesce(p.email, true)))
            ELSE '{}'::text[] END AS "emailOptOut"
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, recipients text[], email boolean)`,
    JSON.stringify(publications.map((publication) => ({ id: publication.notificationId, topic_id: publication.topicId, recipients: publication.recipients, email: publication.email }))),
  );
  return new Map(rows.map(({ id, ...count }) => [id, count]));
}
