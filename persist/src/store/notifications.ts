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

/** Stores the notifications `pending` (invisible to reads), in one insert. */
export async function insertPendingNotifications(tx: Tx, notifications: PendingNotification[]): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO notifications (id, topic_id, publisher_id, publisher_name, title, body, email, url, state, tx_id)
     SELECT id, topic_id, publisher_id, publisher_name, title, body, email, url, 'pending', tx_id
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, publisher_id text, publisher_name text, title text, body text, email boolean, url text, tx_id text)`,
    JSON.stringify(
      notifications.map((notification) => ({
        id: notification.id,
        topic_id: notification.topicId,
        publisher_id: notification.publisherId,
        publisher_name: notification.publisherName,
        title: notification.title,
        body: notification.body,
        email: notification.email,
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
