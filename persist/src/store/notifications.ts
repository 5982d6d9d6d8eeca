// Notifications table access: a recipient's feed in pages, one notification, and the writes of the
// notification.create action (stored pending, committed, or deleted on rollback).
import type { Database, Tx } from './database.ts';
import { afterTime, type TimeKey } from './pagination.ts';

export interface NotificationRow {
  id: string;
  topicId: string;
  publisherId: string;
  publisherName: string;
  title: string;
  body: string;
  email: boolean;
  /** A digest of the request when published with an idempotency key. */
  fingerprint: string | null;
  /** The trace it was published in, null when published with tracing off. */
  traceId: string | null;
  url: string | null;
  /** pending (prepared, invisible) or committed. */
  state: string;
  createdAt: Date;
}

/** A notification as prepare stores it, pending until commit. */
export interface PendingNotification extends Omit<NotificationRow, 'state' | 'createdAt'> {
  txId: string;
}

/** One recipient's delivery of a committed notification, with the notification. */
export interface FeedItem {
  ackState: string;
  muted: boolean;
  ackedAt: Date | null;
  archived: boolean;
  notification: NotificationRow;
}

/**
 * Up to `take` of a recipient's committed notifications, newest first, after `after`:
 * only those not acknowledged (`unreadOnly`), only one topic's (`topicId`), or all; those not
 * archived, or (`archived`) only the archived ones.
 */
export function feedPage(
  db: Database,
  query: { recipientId: string; unreadOnly?: boolean; topicId?: string; archived?: boolean; after: TimeKey | undefined; take: number },
): Promise<FeedItem[]> {
  const { recipientId, unreadOnly, topicId, archived, after, take } = query;
  return db.delivery.findMany({
    where: {
      recipientId,
      archived: archived ?? false,
      ...(unreadOnly ? { ackState: { not: 'acked' } } : {}),
      notification: {
        state: 'committed',
        ...(topicId ? { topicId } : {}),
        ...afterTime(after),
      },
    },
    include: { notification: true },
    orderBy: [{ notification: { createdAt: 'desc' } }, { notification: { id: 'desc' } }],
    take,
  });
}

/** A notification by id, in any state; null when there is none. */
export function findNotification(db: Database, id: string): Promise<NotificationRow | null> {
  return db.notification.findUnique({ where: { id } });
}

/** A notification with its recipients and acknowledgements counted, in one query; null when there is none. */
export async function findNotificationWithCounts(db: Database, id: string): Promise<(NotificationRow & { recipients: number; acknowledged: number }) | null> {
  const rows = await db.$queryRaw<
    {
      id: string;
      topic_id: string;
      publisher_id: string;
      publisher_name: string;
      title: string;
      body: string;
      email: boolean;
      url: string | null;
      fingerprint: string | null;
      trace_id: string | null;
      state: string;
      created_at: Date;
      recipients: number;
      acknowledged: number;
    }[]
  >`
    SELECT n.id::text, n.topic_id::text, n.publisher_id, n.publisher_name, n.title, n.body, n.email, n.url, n.fingerprint, n.trace_id, n.state, n.created_at,
           count(d.recipient_id)::int AS recipients, (count(*) FILTER (WHERE d.ack_state = 'acked'))::int AS acknowledged
    FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id
    WHERE n.id = ${id}::uuid
    GROUP BY n.id`;
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    topicId: row.topic_id,
    publisherId: row.publisher_id,
    publisherName: row.publisher_name,
    title: row.title,
    body: row.body,
    email: row.email,
    url: row.url,
    fingerprint: row.fingerprint,
    traceId: row.trace_id,
    state: row.state,
    createdAt: row.created_at,
    recipients: row.recipients,
    acknowledged: row.acknowledged,
  };
}

/**
 * Stores the notifications `pending` (invisible to reads), in one insert; answers how many were
 * new. An id already stored (pending or committed) is left as it is and not counted.
 */
export async function insertPendingNotifications(tx: Tx, notifications: PendingNotification[]): Promise<number> {
  return tx.$executeRawUnsafe(
    `INSERT INTO notifications (id, topic_id, publisher_id, publisher_name, title, body, email, url, fingerprint, trace_id, state, tx_id)
     SELECT id, topic_id, publisher_id, publisher_name, title, body, email, url, fingerprint, trace_id, 'pending', tx_id
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, publisher_id text, publisher_name text, title text, body text, email boolean, url text, fingerprint text, trace_id text, tx_id text)
     ON CONFLICT (id) DO NOTHING`,
    JSON.stringify(
      notifications.map((notification) => ({
        id: notification.id,
        topic_id: notification.topicId,
        publisher_id: notification.publisherId,
        publisher_name: notification.publisherName,
        title: notification.title,
        body: notification.body,
        email: notification.email,
        fingerprint: notification.fingerprint,
        trace_id: notification.traceId,
        url: notification.url,
        tx_id: notification.txId,
      })),
    ),
  );
}

/** Makes the notifications `committed` (visible), stamped now. */
export async function markNotificationsCommitted(tx: Tx, ids: string[]): Promise<void> {
  await tx.$executeRawUnsafe(`UPDATE notifications SET state = 'committed', committed_at = now() WHERE id = ANY($1::uuid[])`, ids);
}

/** Deletes the notifications still `pending`; their deliveries and events go with them (cascade). */
export async function deletePendingNotifications(tx: Tx, ids: string[]): Promise<void> {
  await tx.$executeRawUnsafe(`DELETE FROM notifications WHERE id = ANY($1::uuid[]) AND state = 'pending'`, ids);
}
