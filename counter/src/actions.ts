// counter's two-phase-commit actions: a notification adds one unread to each recipient, an ack
// removes one, marking all read removes as many as persist marks (the number both are given).
// Prepare stages the change (invisible to reads); commit applies it; rollback drops it.
// Each step reads and writes through store/counters.ts and leaves its decisions to domain/unread.ts.
import { defineAction, participantActions, type ActionItem } from '@notify/lib';
import { counterActions } from '@notify/lib/contracts';
import { checkAck, checkAcks, checkTakeOff, usersToLock } from './domain/unread.ts';
import {
  applyStaged,
  dropStaged,
  lockAvailable,
  lockUnread,
  stageDecrement,
  stageDecrementsMany,
  stagedDecrements,
  stageTakeOff,
  stageIncrements,
  stageIncrementsMany,
} from './store/counters.ts';
import type { Tx } from './store/database.ts';

export const notificationCreate = defineAction<Tx, typeof counterActions.notificationCreate>(counterActions.notificationCreate, {
  async prepare(tx, { recipients }, { txId }) {
    await stageIncrements(tx, txId, recipients);
  },
  commit: commitOne,
  rollback: rollbackOne,
  async prepareMany(tx, items) {
    await stageIncrementsMany(tx, items.flatMap(({ payload, context }) => payload.recipients.map((userId) => ({ txId: context.txId, userId }))));
  },
  commitMany,
  rollbackMany,
});

export const notificationAck = defineAction<Tx, typeof counterActions.notificationAck>(counterActions.notificationAck, {
  async prepare(tx, { userId }, { txId }) {
    // The user's counter row is locked first, so concurrent acks for one user stage one at a time
    // and together never take the count below zero.
    const unread = await lockUnread(tx, userId);
    checkAck(userId, unread, await stagedDecrements(tx, userId));
    await stageDecrement(tx, txId, userId);
  },
  commit: commitOne,
  rollback: rollbackOne,
  lockKey: ({ userId }) => userId,
  /** The users' counter rows locked in user order, every user's acks checked against what is left, then staged in one insert. */
  async prepareMany(tx, items) {
    const userIds = items.map(({ payload }) => payload.userId);
    checkAcks(userIds, await lockAvailable(tx, usersToLock(userIds)));
    await stageDecrementsMany(tx, items.map(({ payload, context }) => ({ txId: context.txId, userId: payload.userId })));
  },
  commitMany,
  rollbackMany,
});

async function commitMany(tx: Tx, items: ActionItem<unknown>[]): Promise<void> {
  await applyStaged(tx, items.map(({ context }) => context.txId));
}

async function rollbackMany(tx: Tx, items: ActionItem<unknown>[]): Promise<void> {
  await dropStaged(tx, items.map(({ context }) => context.txId));
}

async function commitOne(tx: Tx, _payload: unknown, context: { txId: string }): Promise<void> {
  await applyStaged(tx, [context.txId]);
}

async function rollbackOne(tx: Tx, _payload: unknown, context: { txId: string }): Promise<void> {
  await dropStaged(tx, [context.txId]);
}

/**
 * Marking all read takes `count` off: the number of deliveries persist's branch of the same
 * transaction claims (it votes no unless it claims exactly that many), so both move together. The
 * user's row is locked and the decrement checked against what is left after other staged ones, as
 * for an acknowledgement, then staged as one change of -count.
 */
export const notificationReadAll = defineAction<Tx, typeof counterActions.notificationReadAll>(counterActions.notificationReadAll, {
  async prepare(tx, { userId, count }, { txId }) {
    const unread = await lockUnread(tx, userId);
    checkTakeOff(userId, count, unread + (await stagedDecrements(tx, userId)));
    await stageTakeOff(tx, txId, userId, count);
  },
  commit: commitOne,
  rollback: rollbackOne,
  lockKey: ({ userId }) => userId,
});

export const ACTIONS = participantActions(notificationCreate, notificationAck, notificationReadAll);
