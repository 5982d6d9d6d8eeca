// persist's two-phase-commit actions. notification.create stores the notification and one
// delivery per recipient as `pending` (invisible to reads) and publishes it at commit (with
// `audience: 'subscribers'` only if the recipients are still all of the topic's subscribers);
// notification.ack marks one delivery `pending` ack and makes it `acked` (and archived, if asked)
// at commit; notification.read_all does the same for every unread delivery of a user up to a cut-off.
// Each step reads and writes through store/ and leaves its decisions to domain/.
import { defineAction, participantActions, type ActionItem } from '@notify/lib';
import { persistActions } from '@notify/lib/contracts';
import { ackRefusal, checkBatchClaimed, checkReadAllClaimed } from './domain/acknowledgement.ts';
import { checkAllStored, checkPublishers, checkRecipients, stagedPublications, topicsToLock } from './domain/publication.ts';
import type { AckPayload, CreateNotificationPayload, ReadAllPayload } from './domain/schemas.ts';
import type { Tx } from './store/database.ts';
import {
  applyAcks,
  applyClaimed,
  archiveAcked,
  claimAck,
  claimAcks,
  claimUnread,
  findDelivery,
  insertDeliveries,
  lockDeliveries,
  releaseAcks,
  releaseClaimed,
  type AckKey,
} from './store/deliveries.ts';
import { insertAckedEvents, insertCommittedEvents, insertPreparedEvents } from './store/events.ts';
import { deletePendingNotifications, insertPendingNotifications, markNotificationsCommitted } from './store/notifications.ts';
import { countSubscribed } from './store/subscriptions.ts';
import { lockTopicsForShare } from './store/topics.ts';

export const notificationCreate = defineAction<Tx, typeof persistActions.notificationCreate>(persistActions.notificationCreate, {
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
 * refusal throws (in a batch the kit then stages the items one by one, so only that one votes no).
 */
async function prepareNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  const payloads = items.map(({ payload }) => payload);
  checkPublishers(payloads, await lockTopicsForShare(tx, topicsToLock(payloads)));
  checkRecipients(payloads, await countSubscribed(tx, payloads));
  const staged = stagedPublications(items);
  checkAllStored(await insertPendingNotifications(tx, staged.notifications), staged.notifications.length);
  await insertDeliveries(tx, staged.deliveries);
  await insertPreparedEvents(tx, staged.prepared);
}

async function commitNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  const ids = items.map(({ payload }) => payload.notificationId);
  await markNotificationsCommitted(tx, ids);
  await insertCommittedEvents(tx, ids);
}

/** Nothing of an aborted notification remains (its deliveries and events go with it). */
async function rollbackNotifications(tx: Tx, items: ActionItem<CreateNotificationPayload>[]): Promise<void> {
  await deletePendingNotifications(tx, items.map(({ payload }) => payload.notificationId));
}

export const notificationAck = defineAction<Tx, typeof persistActions.notificationAck>(persistActions.notificationAck, {
  async prepare(tx, { notificationId, userId }, { txId }) {
    if (await claimAck(tx, { notificationId, userId, txId })) return;
    throw ackRefusal(notificationId, await findDelivery(tx, notificationId, userId));
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
    await lockDeliveries(tx, keys);
    checkBatchClaimed(await claimAcks(tx, keys), items.length);
  },
  commitMany: commitAcks,
  rollbackMany: rollbackAcks,
});

function ackKeys(items: ActionItem<AckPayload>[]): AckKey[] {
  return items.map(({ payload, context }) => ({ notificationId: payload.notificationId, userId: payload.userId, txId: context.txId }));
}

async function commitAcks(tx: Tx, items: ActionItem<AckPayload>[]): Promise<void> {
  const keys = ackKeys(items);
  await applyAcks(tx, keys);
  await archiveAcked(tx, ackKeys(items.filter(({ payload }) => payload.archive)));
  await insertAckedEvents(tx, keys);
}

async function rollbackAcks(tx: Tx, items: ActionItem<AckPayload>[]): Promise<void> {
  await releaseAcks(tx, ackKeys(items));
}

/**
 * Marking all read. Prepare claims (ack state `pending` with this transaction's id) every unread
 * delivery of the user, of one topic or all, committed at or before the payload's cut-off, and votes
 * no (CONFLICT) unless that is exactly `expected` of them. Counter's branch of the same transaction
 * takes exactly `expected` off, so the unread count moves by what is marked here and nothing else:
 * a delivery an acknowledgement claimed first is not `none` and is not claimed again (it is not
 * counted twice), and one acknowledged or published between the gateway's count and this prepare
 * makes the numbers differ, the transaction abort, and the gateway count again. Commit makes the
 * claimed deliveries `acked` (with an `acked` event each); rollback releases them.
 */
export const notificationReadAll = defineAction<Tx, typeof persistActions.notificationReadAll>(persistActions.notificationReadAll, {
  async prepare(tx, payload, { txId }) {
    const claimed = await claimUnread(tx, { userId: payload.userId, topicId: payload.topicId, cutoff: new Date(payload.cutoff), txId });
    checkReadAllClaimed(claimed, payload);
  },
  async commit(tx, payload: ReadAllPayload, { txId }) {
    const notificationIds = await applyClaimed(tx, payload.userId, txId);
    await insertAckedEvents(tx, notificationIds.map((notificationId) => ({ notificationId, userId: payload.userId })));
  },
  async rollback(tx, payload, { txId }) {
    await releaseClaimed(tx, payload.userId, txId);
  },
  // Items of a batch are staged in user order.
  lockKey: ({ userId }) => userId,
});

export const ACTIONS = participantActions(notificationCreate, notificationAck, notificationReadAll);
