// persist's two-phase-commit actions. notification.create stores the notification and one
// delivery per recipient as `pending` (invisible to reads) and publishes it at commit (with
// `audience: 'subscribers'` only if the recipients are still all of the topic's subscribers);
// notification.ack marks one delivery `pending` ack and makes it `acked` at commit.
import { createError, defineAction, type ActionItem } from '@notify/lib';
import type { Tx } from '../store/database.ts';
import { ackPayload, createNotificationPayload, type AckPayload, type CreateNotificationPayload } from './schemas.ts';

export const notificationCreate = defineAction<Tx, CreateNotificationPayload>({
  payload: createNotificationPayload,
  async prepare(tx, payload, { txId }) {
    // The topic row is share-locked so a concurrent delete waits until this prepare is stored.
    const [topic] = await tx.$queryRawUnsafe<{ creator_id: string; deleted_at: Date | null }[]>(
      'SELECT creator_id, deleted_at FROM topics WHERE id = $1::uuid FOR SHARE',
      payload.topicId,
    );
    if (!topic || topic.deleted_at) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId: payload.topicId } });
    if (topic.creator_id !== payload.publisherId) {
      throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may publish to it', details: { topicId: payload.topicId } });
    }
    if (payload.recipients.length) {
      const [subscribed] = await tx.$queryRawUnsafe<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM subscriptions WHERE topic_id = $1::uuid AND user_id = ANY($2::text[])',
        payload.topicId,
        payload.recipients,
      );
      if ((subscribed?.n ?? 0) !== payload.recipients.length) {
        throw createError({ code: 'CONFLICT', message: 'some recipients are not subscribed to the topic', details: { topicId: payload.topicId } });
      }
    }
    if (payload.audience === 'subscribers') await assertWholeAudience(tx, payload.topicId, payload.recipients.length);
    await tx.notification.create({
      data: {
        id: payload.notificationId,
        topicId: payload.topicId,
        publisherId: payload.publisherId,
        title: payload.title,
        body: payload.body,
        email: payload.email,
        state: 'pending',
        txId,
      },
    });
    if (payload.recipients.length) {
      // One statement whatever the audience: 10,000 deliveries in ~90 ms, where createMany took ~470 ms (bench/gateway.ts).
      await tx.$executeRawUnsafe(
        'INSERT INTO deliveries (notification_id, recipient_id) SELECT $1::uuid, unnest($2::text[])',
        payload.notificationId,
        payload.recipients,
      );
    }
    await tx.notificationEvent.create({ data: { notificationId: payload.notificationId, type: 'prepared', detail: { txId, recipients: payload.recipients.length } } });
  },
  async commit(tx, payload, context) {
    await commitNotifications(tx, [{ payload, context }]);
  },
  async rollback(tx, payload, context) {
    await rollbackNotifications(tx, [{ payload, context }]);
  },
  lockKey: (payload) => payload.topicId,
  /**
   * A batch in a handful of statements whatever its size: the topics share-locked in id order,
   * every check made for all items at once, then one insert each for notifications, deliveries
   * and events. Any refusal throws (the kit then stages the items one by one, so only that one
   * votes no) with the same error the single prepare gives.
   */
  async prepareMany(tx, items) {
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
        throw createError({ code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: payload.topicId, reason: 'SUBSCRIBERS_CHANGED', subscribers: count?.total ?? 0 } });
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
  },
  commitMany: commitNotifications,
  rollbackMany: rollbackNotifications,
});

async function commitNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  const ids = items.map(({ payload }) => payload.notificationId);
  await tx.$executeRawUnsafe(`UPDATE notifications SET state = 'committed', committed_at = now() WHERE id = ANY($1::uuid[])`, ids);
  await tx.$executeRawUnsafe(`INSERT INTO notification_events (notification_id, type) SELECT unnest($1::uuid[]), 'committed'`, ids);
}

/** Nothing of an aborted notification remains (its deliveries and events go with it). */
async function rollbackNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  await tx.$executeRawUnsafe(`DELETE FROM notifications WHERE id = ANY($1::uuid[]) AND state = 'pending'`, items.map(({ payload }) => payload.notificationId));
}

/**
 * For `audience: 'subscribers'`: every recipient is a subscriber (checked above), so the list is
 * the whole audience exactly when the topic has as many subscriptions. A subscription made after
 * the publisher read the list makes it stale: vote no, so the gateway reads the list again rather
 * than silently leaving someone out. A subscription committed after this count (subscribing is not
 * blocked by the share lock on the topic) simply comes after the publication.
 */
async function assertWholeAudience(tx: Tx, topicId: string, recipients: number): Promise<void> {
  const [row] = await tx.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM subscriptions WHERE topic_id = $1::uuid', topicId);
  const subscribers = row?.n ?? 0;
  if (subscribers !== recipients) {
    throw createError({
      code: 'CONFLICT',
      message: 'the topic’s subscribers changed; read them again',
      details: { topicId, reason: 'SUBSCRIBERS_CHANGED', subscribers },
    });
  }
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
