// The acknowledgement transaction: persist marks the delivery acked, counter takes one unread
// off. After the commit, the user's new count is pushed to all of their connections.
import { defineTransaction } from '@notify/lib';
import { counterActions, persistActions } from '@notify/lib/contracts';
import type { CounterReads } from '../counter-reads.ts';
import type { BusMessage } from '../push/fanout.ts';

export function acknowledgementTransaction(d: { publish: (message: BusMessage) => Promise<void>; counters: CounterReads }) {
  return defineTransaction('notification.ack', {
    branches: [persistActions.notificationAck, counterActions.notificationAck],
    async afterCommit({ persist: { userId } }) {
      await d.publish({ kind: 'counter', userId, unread: await d.counters.read(userId) });
    },
  });
}

export type AcknowledgementTransaction = ReturnType<typeof acknowledgementTransaction>;
