// Contention is not an error: 200 publish+ack rounds at once through the gateway (every commit
// touches the same users' counter rows) all succeed, and every user's unread count equals the
// notifications delivered to them and not yet acknowledged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

const ROUNDS = 200;

test('200 concurrent publish+ack rounds through the gateway: no failure, counts equal unacknowledged deliveries', { timeout: 600_000 }, async (t) => {
  // All 200 rounds share one publisher connection: the per-connection in-flight limit (64) is raised past them.
  const system = await startSystem(t, { gatewayEnv: { MAX_INFLIGHT_PER_CONNECTION: '512' } });
  const [gateway] = system.gateways;
  const publisher = await socketIoClient(gateway!, undefined, t);
  await register(publisher, 'publisher');
  const subscribers = await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const client = await jsonRpcClient(gateway!, undefined, t);
      return { client, user: await register(client, `reader-${i}`), acked: 0 };
    }),
  );
  const topic = await publisher.call('topics.create', { name: `contention-${Date.now()}` });
  for (const { client } of subscribers) await client.call('topics.subscribe', { topicId: topic.id });

  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: ROUNDS }, async (_, i) => {
      try {
        const { notification } = await publisher.call('notifications.publish', { topicId: topic.id, title: `n${i}`, body: 'contended' });
        // Two of the four readers acknowledge each one as soon as its push reaches them, at once,
        // while the other rounds are still publishing and acknowledging.
        await Promise.all(
          [subscribers[i % 4]!, subscribers[(i + 1) % 4]!].map(async (reader) => {
            await reader.client.next('notification', (pushed) => pushed.id === notification.id, 120_000);
            await reader.client.call('notifications.ack', { notificationId: notification.id });
            reader.acked += 1;
          }),
        );
      } catch (error) {
        failures.push(`round ${i}: ${(error as Error).message}`);
      }
    }),
  );
  assert.deepEqual(failures, [], `${failures.length} of ${ROUNDS} rounds failed`);
  for (const { client, acked } of subscribers) {
    const { unread } = await client.call('counters.get');
    assert.equal(unread, ROUNDS - acked, 'the count is the deliveries not acknowledged');
    let listed = 0;
    let cursor: string | undefined;
    do {
      const page = await client.call('notifications.list', { unreadOnly: true, limit: 100, ...(cursor ? { cursor } : {}) });
      listed += page.notifications.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(listed, unread, 'the feed’s unread items match the count');
  }
});
