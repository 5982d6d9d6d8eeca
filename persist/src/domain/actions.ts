// persist's two-phase-commit actions. notification.create stores the notification and one
// delivery per recipient as `pending` (invisible to reads) and publishes it at commit (with
// `audience: 'subscribers'` only if the recipients are still all of the topic's subscribers);
// notification.ack marks one delivery `pending` ack and makes it `acked` at commit.
import { createError, defineAction, REASON, type ActionItem } from '@notify/lib';
import type { Tx } from '../store/database.ts';
import { ackPayload, createNotificationPayload, type AckPayload, type CreateNotificationPayload } from './schemas.ts';

export const notificationCreate = defineAction<Tx, CreateNotificationPayload>({
  payload: createNotificationPayload,
  async prepare(tx, payload, context) {
    await prepareNotifications(tx, [{ payload, context }]);
  },
  async commit(tx, payload, context) {
    await commitNotifications(tx, [{ payload, context }]);
  },
  async rollback(tx, payload, context) {
    await rollbackNotifications(tx, [{ payload, context }]);
  },
  lockKey: (payload) => payload.topicId,
  prepareMany: prepareNotifications,
  commitMany: commitNotifications,
  rollbackMany: rollbackNotifications,
});

/**
 * One publication or a batch, in a handful of statements whatever its size: the topics
 * share-locked in id order (a concurrent delete waits until the prepare is stored), every check
 * made for all items at once, then one insert each for notifications, deliveries and events. Any
 * refusal throws (in a batch the kit then stages the items one by one, so only that one votes
 * no). With `audience: 'subscribers'` the recipients must be the topic's whole subscriber list: a
 * subscription made after the publisher read it makes it stale, and the gateway reads it again
 * rather than silently leaving someone out.
 */
async function prepareNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  const topicIds = [...new Set(items.map(({ payload }) => payload.topicId))].sort();
  const topics = await tx.$queryRawUnsafe<{ id: string; creator_id: string; deleted_at: Date | null }[]>(
    'SELECT id::text, creator_id, deleted_at FROM topics WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE',
    topicIds,
  );
  const byId = new Map(topics.map((topic) => [topic.id, topic]));
  for (const { payload } of items) {
    const topic = byId.get(payload.topicId);
    if (!topic || topic.deleted_at) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId: payload.topicId } });
    if (topic.creator_id !== payload.publisherId) throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may publish to it', details: { topicId: payload.topicId } });
  }
  const counted = await tx.$queryRawUnsafe<{ id: string; subscribed: number; total: number }[]>(
    `SELECT item.id::text,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id AND s.user_id = ANY(item.recipients))::int AS subscribed,
            (SELECT count(*) FROM subscriptions s WHERE s.topic_id = item.topic_id)::int AS total
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, recipients text[])`,
    JSON.stringify(items.map(({ payload }) => ({ id: payload.notificationId, topic_id: payload.topicId, recipients: payload.recipients }))),
  );
  const counts = new Map(counted.map((row) => [row.id, row]));
  for (const { payload } of items) {
    const count = counts.get(payload.notificationId);
    if ((count?.subscribed ?? 0) !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'some recipients are not subscribed to the topic', details: { topicId: payload.topicId } });
    }
    if (payload.audience === 'subscribers' && count?.total !== payload.recipients.length) {
      throw createError({ code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: payload.topicId, reason: REASON.SUBSCRIBERS_CHANGED, subscribers: count?.total ?? 0 } });
    }
  }
  await tx.$executeRawUnsafe(
    `INSERT INTO notifications (id, topic_id, publisher_id, title, body, email, state, tx_id)
     SELECT id, topic_id, publisher_id, title, body, email, 'pending', tx_id
     FROM jsonb_to_recordset($1::jsonb) AS item(id uuid, topic_id uuid, publisher_id text, title text, body text, email boolean, tx_id text)`,
    JSON.stringify(items.map(({ payload, context }) => ({ id: payload.notificationId, topic_id: payload.topicId, publisher_id: payload.publisherId, title: payload.title, body: payload.body, email: payload.email, tx_id: context.txId }))),
  );
  const deliveries = items.flatMap(({ payload }) => payload.recipients.map((recipient) => [payload.notificationId, recipient] as const));
  if (deliveries.length) {
    await tx.$executeRawUnsafe(
      'INSERT INTO deliveries (notification_id, recipient_id) SELECT * FROM unnest($1::uuid[], $2::text[])',
      deliveries.map(([notification]) => notification),
      deliveries.map(([, recipient]) => recipient),
    );
  }
  await tx.$executeRawUnsafe(
    `INSERT INTO notification_events (notification_id, type, detail)
     SELECT id, 'prepared', jsonb_build_object('txId', tx_id, 'recipients', recipients) FROM unnest($1::uuid[], $2::text[], $3::int[]) AS item(id, tx_id, recipients)`,
    items.map(({ payload }) => payload.notificationId),
    items.map(({ context }) => context.txId),
    items.map(({ payload }) => payload.recipients.length),
  );
}

async function commitNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  const ids = items.map(({ payload }) => payload.notificationId);
  await tx.$executeRawUnsafe(`UPDATE notifications SET state = 'committed', committed_at = now() WHERE id = ANY($1::uuid[])`, ids);
  await tx.$executeRawUnsafe(`INSERT INTO notification_events (notification_id, type) SELECT unnest($1::uuid[]), 'committed'`, ids);
}

/** Nothing of an aborted notification remains (its deliveries and events go with it). */
async function rollbackNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  await tx.$executeRawUnsafe(`DELETE FROM notifications WHERE id = ANY($1::uuid[]) AND state = 'pending'`, items.map(({ payload }) => payload.notificationId));
}

export const notificationAck = defineAction<Tx, AckPayload>({
  payload: ackPayload,
  async prepare(tx, { notificationId, userId }, { txId }) {
    // One conditional update: of two acks of the same delivery racing, exactly one finds it `none`.
    const claimed = await tx.$executeRawUnsafe(
      `UPDATE deliveries d SET ack_state = 'pending', ack_tx_id = $3
       FROM notifications n
       WHERE d.notification_id = $1::uuid AND d.recipient_id = $2 AND d.ack_state = 'none'
         AND n.id = d.notification_id AND n.state = 'committed'`,
      notificationId,
      userId,
      txId,
    );
    if (claimed === 1) return;
    const delivery = await tx.delivery.findUnique({ where: { notificationId_recipientId: { notificationId, recipientId: userId } }, include: { notification: true } });
    if (!delivery || delivery.notification.state !== 'committed') {
      throw createError({ code: 'NOT_FOUND', message: 'no such notification for this user', details: { notificationId } });
    }
    throw createError({
      code: 'CONFLICT',
      message: delivery.ackState === 'acked' ? 'already acknowledged' : 'an acknowledgement is already in progress',
      details: { notificationId, ackState: delivery.ackState },
    });
  },
  async commit(tx, payload, context) {
    await commitAcks(tx, [{ payload, context }]);
  },
  async rollback(tx, payload, context) {
    await rollbackAcks(tx, [{ payload, context }]);
  },
  lockKey: ({ notificationId, userId }) => `${notificationId}/${userId}`,
  /** The deliveries locked in key order, then claimed in one update; any that cannot be claimed throws (see notificationCreate). */
  async prepareMany(tx, items) {
    const keys = ackKeys(items);
    await tx.$queryRawUnsafe(
      `SELECT 1 FROM deliveries WHERE (notification_id, recipient_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
       ORDER BY notification_id, recipient_id FOR UPDATE`,
      keys.notifications,
      keys.users,
    );
    const claimed = await tx.$executeRawUnsafe(
      `UPDATE deliveries d SET ack_state = 'pending', ack_tx_id = item.tx_id
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id), notifications n
       WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_state = 'none'
         AND n.id = d.notification_id AND n.state = 'committed'`,
      keys.notifications,
      keys.users,
      keys.txIds,
    );
    if (claimed !== items.length) throw createError({ code: 'CONFLICT', message: 'some acknowledgements of the batch cannot be staged' });
  },
  commitMany: commitAcks,
  rollbackMany: rollbackAcks,
});

function ackKeys(items: ActionItem<AckPayload>[]) {
  return {
    notifications: items.map(({ payload }) => payload.notificationId),
    users: items.map(({ payload }) => payload.userId),
    txIds: items.map(({ context }) => context.txId),
  };
}

async function commitAcks(tx: Tx, items: ActionItem<AckPayload>[]): Promise<void> {
  const keys = ackKeys(items);
  await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'acked', acked_at = now()
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id)
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_tx_id = item.tx_id`,
    keys.notifications,
    keys.users,
    keys.txIds,
  );
  await tx.$executeRawUnsafe(
    `INSERT INTO notification_events (notification_id, type, recipient_id) SELECT notification_id, 'acked', recipient_id FROM unnest($1::uuid[], $2::text[]) AS item(notification_id, recipient_id)`,
    keys.notifications,
    keys.users,
  );
}

async function rollbackAcks(tx: Tx, items: ActionItem<AckPayload>[]): Promise<void> {
  const keys = ackKeys(items);
  await tx.$executeRawUnsafe(
    `UPDATE deliveries d SET ack_state = 'none', ack_tx_id = NULL
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS item(notification_id, recipient_id, tx_id)
     WHERE d.notification_id = item.notification_id AND d.recipient_id = item.recipient_id AND d.ack_tx_id = item.tx_id`,
    keys.notifications,
    keys.users,
    keys.txIds,
  );
}

export const ACTIONS = { 'notification.create': notificationCreate, 'notification.ack': notificationAck };
