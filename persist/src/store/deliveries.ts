// Deliveries table access: one row per recipient of a notification, and its acknowledgement state
// (none, pending while an ack is prepared, acked), staged, applied and released by notification.ack.
import type { Tx } from './database.ts';

/** A delivery as the rules need it: its ack state and its notification's state. */
export interface DeliveryState {
  ackState: string;
  notificationState: string;
}

/** One recipient's acknowledgement of one notification, in the transaction `txId`. */
export interface AckKey {
  notificationId: string;
  userId: string;
  txId: string;
}

/**
 * Inserts one delivery per (notification, recipient), in one insert: ack state `none`, or `acked`
 * (now) and flagged `muted` for a recipient who muted the topic (counted nowhere as unread).
 */
export async function insertDeliveries(tx: Tx, deliveries: { notificationId: string; recipientId: string; muted: boolean }[]): Promise<void> {
  if (!deliveries.length) return;
  await tx.$executeRawUnsafe(
    `INSERT INTO deliveries (notification_id, recipient_id, ack_state, acked_at, muted)
     SELECT id, recipient, CASE WHEN muted THEN 'acked' ELSE 'none' END, CASE WHEN muted THEN now() END, muted
       FROM unnest($1::uuid[], $2::text[], $3::boolean[]) AS item(id, recipient, muted)`,
    deliveries.map((delivery) => delivery.notificationId),
    deliveries.map((delivery) => delivery.recipientId),
    deliveries.map((delivery) => delivery.muted),
  );
}

/** One recipient's delivery of a notification; null when there is none. `db`: the client or a transaction's. */
export async function findDelivery(db: Tx, notificationId: string, recipientId: string): Promise<DeliveryState | null> {
  const delivery = await db.delivery.findUnique({
    where: { notificationId_recipientId: { notificationId, recipientId } },
    include: { notification: { select: { state: true } } },
  });
  return delivery && { ackState: delivery.ackState, notificationState: delivery.notification.state };
}

/** Whether the user is one of the notification's recipients (has a delivery of it, in any state). */
/** The recipients of a notification (one delivery each), in id order. */
export async function recipientsOf(db: Tx, notificationId: string): Promise<string[]> {
  const rows = await db.delivery.findMany({ where: { notificationId }, select: { recipientId: true }, orderBy: { recipientId: 'asc' } });
  return rows.map((row) => row.recipientId);
}

export async function hasDelivery(db: Tx, notificationId: string, recipientId: string): Promise<boolean> {
  return (await db.delivery.findUnique({ where: { notificationId_recipientId: { notificationId, recipientId } } })) !== null;
}

/** The given recipients (each once, in order) without a delivery of the notification, or all of them unless it is committed. */
export async function unknownRecipients(db: Tx, notificationId: string, recipientIds: string[]): Promise<string[]> {
  const wanted = [...new Set(recipientIds)];
  const found = await db.$queryRawUnsafe<{ recipient_id: string }[]>(
    `SELECT d.recipient_id FROM deliveries d JOIN notifications n ON n.id = d.notification_id
     WHERE d.notification_id = $1::uuid AND n.state = 'committed' AND d.recipient_id = ANY($2::text[])`,
    notificationId,
    wanted,
  );
  const known = new Set(found.map((row) => row.recipient_id));
  return wanted.filter((id) => !known.has(id));
}

/**
 * Marks one delivery of a committed notification `pending` ack for `txId`, if its ack state is
 * `none`; false when it is not. One conditional update: of two acks of the same delivery racing,
 * exactly one finds it `none`.
 */
export async function claimAck(tx: Tx, { notificationId, userId, txId }: AckKey): Promise<boolean> {
  const claimed = await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'pending', ack_tx_id = $3
     FROM notifications n
     WHERE d.notification_id = $1::uuid AND d.recipient_id = $2 AND d.ack_state = 'none'
       AND n.id = d.notification_id AND n.state = 'committed'`,
    notificationId,
    userId,
    txId,
  );
  return claimed === 1;
}

/** Locks the deliveries for the rest of the transaction, in key order (so concurrent batches queue, never deadlock). */
export async function lockDeliveries(tx: Tx, keys: Omit<AckKey, 'txId'>[]): Promise<void> {
  await tx.$queryRawUnsafe(
    `SELECT 1 FROM deliveries WHERE (notification_id, recipient_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
     ORDER BY notification_id, recipient_id FOR UPDATE`,
    keys.map((key) => key.notificationId),
    keys.map((key) => key.userId),
  );
}

/** claimAck for many deliveries in one update; returns how many were claimed. */
export async function claimAcks(tx: Tx, keys: AckKey[]): Promise<number> {
  return tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'pending', ack_tx_id = item.tx_id
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id), notifications n
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_state = 'none'
       AND n.id = d.notification_id AND n.state = 'committed'`,
    ...columns(keys),
  );
}

/** Makes the deliveries each key's transaction claimed `acked`, stamped now. */
export async function applyAcks(tx: Tx, keys: AckKey[]): Promise<void> {
  await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'acked', acked_at = now()
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id)
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_tx_id = item.tx_id`,
    ...columns(keys),
  );
}

/** Puts the deliveries each key's transaction claimed back to `none`. */
export async function releaseAcks(tx: Tx, keys: AckKey[]): Promise<void> {
  await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'none', ack_tx_id = NULL
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id)
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_tx_id = item.tx_id`,
    ...columns(keys),
  );
}

/** The keys as the three arrays the statements unnest: notification ids, user ids, transaction ids. */
function columns(keys: AckKey[]): [string[], string[], string[]] {
  return [keys.map((key) => key.notificationId), keys.map((key) => key.userId), keys.map((key) => key.txId)];
}

/** Which of a user's deliveries marking all read covers: theirs, of committed notifications, of one topic or all. */
export interface UnreadScope {
  userId: string;
  topicId?: string | undefined;
}

/**
 * How many of the user's deliveries are unread (ack state `none`, notification committed at or
 * before the cut-off), and that cut-off (the database's clock now): what a mark-all-read of exactly
 * these is made with.
 */
export async function countUnread(db: Tx, { userId, topicId }: UnreadScope): Promise<{ unread: number; cutoff: Date }> {
  const [row] = await db.$queryRawUnsafe<{ unread: number; cutoff: Date }[]>(
    // The cut-off in whole milliseconds (as JavaScript's Date holds it), and the count under the same
    // condition claimUnread applies, so the two agree unless the deliveries changed in between.
    `WITH c AS (SELECT date_trunc('milliseconds', now()) AS cutoff)
     SELECT (SELECT count(*)::int FROM deliveries d JOIN notifications n ON n.id = d.notification_id
             WHERE d.recipient_id = $1 AND d.ack_state = 'none' AND n.state = 'committed' AND n.committed_at <= c.cutoff
               AND ($2::uuid IS NULL OR n.topic_id = $2::uuid)) AS unread, c.cutoff
     FROM c`,
    userId,
    topicId ?? null,
  );
  return { unread: row!.unread, cutoff: row!.cutoff };
}

/**
 * Marks `pending` ack for `txId` every unread delivery of the user (of one topic) whose notification
 * was committed at or before `cutoff`; returns how many. The rows are locked in notification order
 * first (the order acknowledgement batches lock in, so the two queue and never deadlock), and a row
 * an acknowledgement claimed meanwhile is no longer `none` when the lock is granted, so it is left out.
 */
export async function claimUnread(tx: Tx, scope: UnreadScope & { cutoff: Date; txId: string }): Promise<number> {
  return tx.$executeRawUnsafe(
    `WITH target AS (
       SELECT d.notification_id FROM deliveries d JOIN notifications n ON n.id = d.notification_id
       WHERE d.recipient_id = $1 AND d.ack_state = 'none' AND n.state = 'committed' AND n.committed_at <= $3
         AND ($2::uuid IS NULL OR n.topic_id = $2::uuid)
       ORDER BY d.notification_id FOR UPDATE OF d
     )
     UPDATE deliveries d SET ack_state = 'pending', ack_tx_id = $4
     FROM target WHERE d.notification_id = target.notification_id AND d.recipient_id = $1 AND d.ack_state = 'none'`,
    scope.userId,
    scope.topicId ?? null,
    scope.cutoff,
    scope.txId,
  );
}

/** Makes the deliveries the transaction claimed for the user `acked`, stamped now; returns their notification ids (for the `acked` events). */
export async function applyClaimed(tx: Tx, userId: string, txId: string): Promise<string[]> {
  const rows = await tx.$queryRawUnsafe<{ notification_id: string }[]>(
    `UPDATE deliveries SET ack_state = 'acked', acked_at = now() WHERE recipient_id = $1 AND ack_state = 'pending' AND ack_tx_id = $2 RETURNING notification_id::text`,
    userId,
    txId,
  );
  return rows.map((row) => row.notification_id);
}

/** Puts the deliveries the transaction claimed for the user back to `none`. */
export async function releaseClaimed(tx: Tx, userId: string, txId: string): Promise<void> {
  await tx.$executeRawUnsafe(`UPDATE deliveries SET ack_state = 'none', ack_tx_id = NULL WHERE recipient_id = $1 AND ack_state = 'pending' AND ack_tx_id = $2`, userId, txId);
}

/** Archives the deliveries the keys' transactions acknowledged (an acknowledgement made to archive). */
export async function archiveAcked(tx: Tx, keys: AckKey[]): Promise<void> {
  if (!keys.length) return;
  await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET archived = true
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id)
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_tx_id = item.tx_id`,
    ...columns(keys),
  );
}

/**
 * Archives or unarchives the user's delivery of a committed notification. Only a read (acked)
 * delivery is archived here: for an unread one nothing changes and `archived` answers false (it is
 * archived by an acknowledgement, so the unread count follows). Null when there is no such delivery.
 */
export async function setArchived(db: Tx, notificationId: string, userId: string, archived: boolean): Promise<{ archived: boolean; read: boolean } | null> {
  const [row] = await db.$queryRawUnsafe<{ archived: boolean; ack_state: string }[]>(
    `WITH target AS (
       SELECT d.notification_id, d.recipient_id, d.ack_state, d.archived FROM deliveries d JOIN notifications n ON n.id = d.notification_id
       WHERE d.notification_id = $1::uuid AND d.recipient_id = $2 AND n.state = 'committed'
     ),
     changed AS (
       UPDATE deliveries d SET archived = $3 FROM target
       WHERE d.notification_id = target.notification_id AND d.recipient_id = target.recipient_id AND (NOT $3 OR d.ack_state = 'acked')
       RETURNING d.archived, d.ack_state
     )
     SELECT COALESCE((SELECT archived FROM changed), target.archived) AS archived, COALESCE((SELECT ack_state FROM changed), target.ack_state) AS ack_state FROM target`,
    notificationId,
    userId,
    archived,
  );
  return row ? { archived: row.archived, read: row.ack_state === 'acked' } : null;
}
