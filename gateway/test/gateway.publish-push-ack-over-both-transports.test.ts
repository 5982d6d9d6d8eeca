// The whole system as real processes, driven through the gateway over socket.io and JSON-RPC:
// register, create a topic, subscribe, publish, live pushes to every connection of the
// subscriber, ack, the trace; creator-only publishing; logout ending every connection of a token.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { failure, jsonRpcClient, metric, register, socketIoClient, startSystem } from './helper.ts';

test('publish reaches every connection of the subscriber on both transports; ack lowers the counter; the trace tells it all', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  const a = await register(alice, 'alice');
  const bobRpc = await jsonRpcClient(gateway!, undefined, t);
  const b = await register(bobRpc, 'bob');
  // Bob's second connection joins with his token in the socket.io handshake.
  const bobIo = await socketIoClient(gateway!, b.token, t);
  assert.equal((await bobIo.call('users.me')).id, b.id);
  assert.deepEqual(await bobRpc.call('users.me'), { id: b.id, email: b.email, name: 'bob', avatarUrl: `/avatars/${b.id}` }, 'no avatar service in this system: the URL without a version');

  const topic = await alice.call('topics.create', { name: `deploys-${Date.now()}`, description: 'what shipped' });
  assert.equal(topic.creatorId, a.id);
  const subscription = await bobRpc.call('topics.subscribe', { topicId: topic.id });
  assert.equal(subscription.topicId, topic.id);
  assert.deepEqual((await bobIo.call('topics.list', { subscribed: true })).topics.map((x) => x.id), [topic.id]);
  assert.equal((await bobRpc.call('counters.get')).unread, 0);

  const published = await alice.call('notifications.publish', { topicId: topic.id, title: 'v1.2 is live', body: 'release notes inside' });
  assert.deepEqual(published.recipients, [b.id]);
  for (const connection of [bobRpc, bobIo]) {
    const pushed = await connection.next('notification', (n) => n.id === published.notification.id);
    assert.equal(pushed.title, 'v1.2 is live');
    await connection.next('counter', (c) => c.unread === 1);
  }
  // The publisher does not follow the topic: no push for alice.
  assert.equal(alice.pushes.filter((p) => p.event === 'notification').length, 0);
  const feed = await bobIo.call('notifications.list', { unreadOnly: true });
  assert.deepEqual(feed.notifications.map((n) => n.id), [published.notification.id]);

  const acked = await bobRpc.call('notifications.ack', { notificationId: published.notification.id });
  assert.deepEqual(acked, { ok: true, unread: 0 });
  for (const connection of [bobRpc, bobIo]) await connection.next('counter', (c) => c.unread === 0);
  assert.equal((await bobIo.call('notifications.list', { unreadOnly: true })).notifications.length, 0);
  const again = await failure(bobIo.call('notifications.ack', { notificationId: published.notification.id }));
  assert.equal(again.error.code, 'CONFLICT');
  assert.equal((await bobIo.call('counters.get')).unread, 0);

  // Deliveries are recorded per connection; the trace shows the whole lifecycle.
  let events: string[] = [];
  for (let i = 0; i < 50 && events.filter((type) => type === 'delivered').length < 2; i += 1) {
    events = (await alice.call('notifications.trace', { notificationId: published.notification.id })).events.map((event) => event.type);
    await sleep(50);
  }
  assert.deepEqual(events.filter((type) => type !== 'delivered'), ['prepared', 'committed', 'acked']);
  assert.equal(events.filter((type) => type === 'delivered').length, 2);
  assert.equal(await metric(gateway!, 'gateway_connections', { transport: 'socket.io' }), 2);
  assert.equal(await metric(gateway!, 'twopc_coordinator_transactions_total', { outcome: 'committed' }), 2);
});

test('only the creator publishes; publishing to listed subscribers reaches only them; non-subscribers in `to` are refused', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  const bob = await jsonRpcClient(gateway!, undefined, t);
  const carol = await socketIoClient(gateway!, undefined, t);
  const [a, b, c] = [await register(alice, 'alice'), await register(bob, 'bob'), await register(carol, 'carol')];
  const topic = await alice.call('topics.create', { name: `ops-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  await carol.call('topics.subscribe', { topicId: topic.id });

  const forbidden = await failure(bob.call('notifications.publish', { topicId: topic.id, title: 'hijack', body: '' }));
  assert.equal(forbidden.error.code, 'FORBIDDEN');
  const stranger = await failure(alice.call('notifications.publish', { topicId: topic.id, title: 'x', body: '', to: [b.id, a.id] }));
  assert.equal(stranger.error.code, 'INVALID_ARGUMENT');
  assert.deepEqual(stranger.error.details?.notSubscribed, [a.id]);
  const unknownTopic = await failure(alice.call('notifications.publish', { topicId: '00000000-0000-4000-8000-000000000000', title: 'x', body: '' }));
  assert.equal(unknownTopic.error.code, 'NOT_FOUND');

  const direct = await alice.call('notifications.publish', { topicId: topic.id, title: 'just carol', body: '', to: [c.id] });
  assert.deepEqual(direct.recipients, [c.id]);
  await carol.next('notification', (n) => n.id === direct.notification.id);
  assert.equal((await bob.call('counters.get')).unread, 0);
  assert.equal((await carol.call('counters.get')).unread, 1);
  assert.equal(bob.pushes.filter((p) => p.event === 'notification').length, 0);
  // Nothing of the refused publications exists anywhere.
  assert.equal((await bob.call('notifications.list')).notifications.length, 0);
  assert.equal((await carol.call('notifications.list')).notifications.length, 1);
  // Other users' resources: bob cannot delete alice's topic, nor read the trace of a notification not his.
  assert.equal((await failure(bob.call('topics.delete', { topicId: topic.id }))).error.code, 'FORBIDDEN');
  assert.equal((await failure(bob.call('notifications.trace', { notificationId: direct.notification.id }))).error.code, 'FORBIDDEN');
  assert.equal((await failure(bob.call('notifications.ack', { notificationId: direct.notification.id }))).error.code, 'NOT_FOUND');
});

test('a logout ends every connection of that token on every gateway at once; the token is dead everywhere', async (t) => {
  const system = await startSystem(t, { gateways: 2 });
  const [one, two] = system.gateways;
  const first = await socketIoClient(one!, undefined, t);
  const b = await register(first, 'bob');
  const onTwo = await jsonRpcClient(two!, b.token, t);
  const alsoOnOne = await jsonRpcClient(one!, b.token, t);
  const otherSession = await jsonRpcClient(two!, undefined, t);
  await otherSession.call('users.login', { email: b.email, password: 'correct horse battery' });
  assert.equal((await onTwo.call('users.me')).id, b.id);

  assert.deepEqual(await first.call('users.logout'), { ok: true });
  await onTwo.next('session.ended');
  await alsoOnOne.next('session.ended');
  for (const client of [first, onTwo, alsoOnOne]) assert.equal((await failure(client.call('users.me'))).error.code, 'UNAUTHENTICATED');
  // Another login of the same user is another session: it lives on.
  assert.equal((await otherSession.call('users.me')).id, b.id);
  // The dead token is refused at the handshake on both transports.
  await assert.rejects(socketIoClient(two!, b.token), (error: Error & { data?: { code: string } }) => error.data?.code === 'UNAUTHENTICATED');
  const refused = await jsonRpcClient(one!, b.token);
  const [code] = (await once(refused.socket, 'close')) as [number];
  assert.equal(code, 4401);
});

test('pushes cross gateway instances, large ones through the outbox', async (t) => {
  const system = await startSystem(t, { gateways: 2 });
  const [one, two] = system.gateways;
  const alice = await jsonRpcClient(one!, undefined, t);
  const bob = await socketIoClient(two!, undefined, t);
  await register(alice, 'alice');
  await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `big-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  // 9,000 characters: over NOTIFY's 8000-byte payload limit, so it travels through push_outbox.
  const body = 'x'.repeat(9_000);
  const published = await alice.call('notifications.publish', { topicId: topic.id, title: 'large', body });
  const pushed = await bob.next('notification', (n) => n.id === published.notification.id);
  assert.equal(pushed.body.length, 9_000);
  await bob.next('counter', (c) => c.unread === 1);
});
