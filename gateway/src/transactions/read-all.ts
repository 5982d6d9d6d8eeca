// The mark-all-read transaction: persist marks the user's unread deliveries (of one topic, or all)
// read, counter takes exactly as many off. After the commit, the user's new count is pushed to all
// of their connections.
import { defineTransaction } from '@notify/lib';
import { counterActions, persistActions } from '@notify/lib/contracts';
import type { CounterReads } from '../counter-reads.ts';
import type { BusMessage } from '../push/fanout.ts';

export function readAllTransaction(d: { publish: (message: BusMessage) => Promise<void>; counters: CounterReads }) {
  return defineTransaction('notification.read_all', {
    branches: [persistActions.notificationReadAll, counterActions.notificationReadAll],
    async afterCommit({ persist: { userId } }) {
      await d.publish({ kind: 'counter', userId, unread: await d.counters.read(userId) });
    },
  });
}

export type ReadAllTransaction = ReturnType<typeof readAllTransaction>;
