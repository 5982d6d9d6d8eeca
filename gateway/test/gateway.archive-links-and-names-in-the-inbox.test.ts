// The inbox on the running system: archiving an unread notification reads it (the count follows,
// and is pushed), archived ones leave the feed unless asked for and come back when unarchived;
// a publication's action link is http or https only and comes back as given; every notification
// carries its publisher's name and avatar, in the publish answer, the push and the list; topics
// carry their creator's name and subscriber count, topics.get reads one, and topics.subscribers
// lists followers by name for the topic's creator only; other users' ids are NOT_FOUND or FORBIDDEN.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { CallError, failure, jsonRpcClient, pushedSince, register, socketIoClient, startSystem, withPg, type Client } from './helper.ts';

const code = async (promise: Promise<unknown>) => (await failure(promise)).error.code;

async function countsEqualUnacknowledged(persistUrl: string, counterUrl: string, userId: string): Promise<void> {
  const unacked = await withPg(persistUrl, async (db) =>
    Number((await db.query(`SELECT count(*) AS n FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.state = 'committed' AND d.ack_state <> 'acked' AND d.recipient_id = $1`, [userId])).rows[0].n),
  );
  const counted = await withPg(counterUrl, async (db) => Number((await db.query('SELECT unread FROM counters WHERE user_id = $1', [userId])).rows[0]?.unread ?? 0));
  assert.equal(counted, unacked, 'the unread count is the unacknowledged deliveries');
}

const ids = (notifications: { id: string }[]) => notifications.map((n) => n.id);

test('archive, action links, publisher names and topics with their followers', { timeout: 600_000 }, async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const ada: Client = await jsonRpcClient(gateway!, undefined, t);
  const { user: adaUser } = await ada.call('users.register', { email: `ada-${randomUUID()}@example.test`, password: 'correct horse battery', name: 'Ada Lovelace' });
  const bob = await socketIoClient(gateway!, undefined, t);
  const bobUser = await register(bob, 'Bob');
  const cy = await jsonRpcClient(gateway!, undefined, t);
  const cyUser = await register(cy, 'Cy');
  const topic = await ada.call('topics.create', { name: `inbox-${Date.now()}`, description: 'releases' });
  assert.deepEqual([topic.creatorName, topic.subscriberCount], ['Ada Lovelace', 0]);
  await bob.call('topics.subscribe', { topicId: topic.id });
  await cy.call('topics.subscribe', { topicId: topic.id });

  await t.test('topics carry their creator’s name and subscriber count; topics.get reads one; unknown or forged ids are refused', async () => {
    const read = await bob.call('topics.get', { topicId: topic.id });
    assert.deepEqual({ ...read }, { ...topic, subscriberCount: 2 });
    const listed = (await bob.call('topics.list', { subscribed: true })).topics.find((item) => item.id === topic.id);
    assert.deepEqual([listed?.creatorName, listed?.subscriberCount], ['Ada Lovelace', 2]);
    assert.equal(await code(bob.call('topics.get', { topicId: randomUUID() })), 'NOT_FOUND');
    assert.equal(await code(bob.call('topics.get', { topicId: 'not-a-uuid' })), 'INVALID_ARGUMENT');
    assert.equal(await code(bob.call('topics.get', { topicId: topic.id, userId: bobUser.id } as never)), 'INVALID_ARGUMENT');
  });

  await t.test('topics.subscribers names the followers, page by page, for the topic’s creator only', async () => {
    const first = await ada.call('topics.subscribers', { topicId: topic.id, limit: 1 });
    assert.equal(first.subscribers.length, 1);
    assert.ok(first.nextCursor);
    const second = await ada.call('topics.subscribers', { topicId: topic.id, limit: 1, cursor: first.nextCursor });
    assert.equal(second.nextCursor, null);
    const all = [...first.subscribers, ...second.subscribers].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(all, [
      { id: bobUser.id, name: 'Bob' },
      { id: cyUser.id, name: 'Cy' },
    ]);
    assert.equal(await code(bob.call('topics.subscribers', { topicId: topic.id })), 'FORBIDDEN');
    assert.equal(await code(ada.call('topics.subscribers', { topicId: randomUUID() })), 'NOT_FOUND');
    assert.equal(await code(ada.call('topics.subscribers', { topicId: topic.id, cursor: Buffer.from(JSON.stringify({ u: 1 })).toString('base64url') })), 'INVALID_ARGUMENT');
    assert.equal(await code(ada.call('topics.subscribers', { topicId: topic.id, limit: 101 })), 'INVALID_ARGUMENT');
    // Picked followers are what `to` takes.
    const { recipients } = await ada.call('notifications.publish', { topicId: topic.id, title: 'just you', body: '', to: [first.subscribers[0]!.id] });
    assert.deepEqual(recipients, [first.subscribers[0]!.id]);
    await (first.subscribers[0]!.id === bobUser.id ? bob : cy).call('notifications.readAll', {});
  });

  await t.test('an action link is http or https, at most 2,000 characters; anything else is INVALID_ARGUMENT and publishes nothing', async () => {
    const before = (await bob.call('counters.get')).unread;
    for (const url of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://example.test/x', 'mailto:a@example.test', '//example.test', 'example.test', '', `https://example.test/${'x'.repeat(2_000)}`, 'https://exa mple.test']) {
      const error = await failure(ada.call('notifications.publish', { topicId: topic.id, title: 'bad link', body: '', url }));
      assert.equal(error.error.code, 'INVALID_ARGUMENT', url.slice(0, 40));
    }
    assert.equal((await bob.call('counters.get')).unread, before, 'nothing was published');
    assert.deepEqual((await bob.call('notifications.list', {})).notifications.filter((n) => n.title === 'bad link'), []);
  });

  await t.test('the link, the publisher’s name and avatar come with the publish answer, the push and the list', async () => {
    const url = `https://example.test/releases/2.0?from=notify&x=${'y'.repeat(1_900)}`;
    const { notification } = await ada.call('notifications.publish', { topicId: topic.id, title: 'v2.0', body: 'out', url });
    const pushed = await bob.next('notification', (n) => n.id === notification.id);
    const [listed] = (await bob.call('notifications.list', { topicId: topic.id, limit: 1 })).notifications;
    // This system runs no avatar service: the URL goes out without a version rather than failing the call.
    const avatar = `/avatars/${adaUser.id}`;
    for (const [where, item] of Object.entries({ answer: notification, push: pushed, list: listed! })) {
      assert.deepEqual([item.id, item.url, item.publisherId, item.publisherName, item.publisherAvatarUrl, item.archived], [notification.id, url, adaUser.id, 'Ada Lovelace', avatar, false], where);
    }
    const plain = await ada.call('notifications.publish', { topicId: topic.id, title: 'no link', body: '' });
    assert.equal(plain.notification.url, null);
    await bob.next('notification', (n) => n.id === plain.notification.id && n.url === null);
  });

  await t.test('archiving an unread notification reads it; the archived leave the feed unless asked for and come back unarchived', async () => {
    await bob.call('notifications.readAll', {});
    const { notification: first } = await ada.call('notifications.publish', { topicId: topic.id, title: 'archive me', body: '' });
    const { notification: second } = await ada.call('notifications.publish', { topicId: topic.id, title: 'read, then archive me', body: '' });
    await bob.next('notification', (n) => n.id === second.id);
    assert.equal((await bob.call('counters.get')).unread, 2);
    const pushedBefore = bob.pushes.length;

    assert.deepEqual(await bob.call('notifications.archive', { notificationId: first.id }), { ok: true, unread: 1 });
    await pushedSince(bob, pushedBefore, 'counter', (pushed) => pushed.unread === 1);
    assert.deepEqual(await bob.call('notifications.ack', { notificationId: second.id }), { ok: true, unread: 0 });
    assert.deepEqual(await bob.call('notifications.archive', { notificationId: second.id, archived: true }), { ok: true, unread: 0 }, 'a read one is archived, the count unchanged');
    assert.deepEqual(await bob.call('notifications.archive', { notificationId: second.id }), { ok: true, unread: 0 }, 'archiving twice is no error');
    assert.equal(await code(bob.call('notifications.ack', { notificationId: first.id })), 'CONFLICT', 'archived means read');

    const feed = ids((await bob.call('notifications.list', { topicId: topic.id })).notifications);
    assert.ok(!feed.includes(first.id) && !feed.includes(second.id), 'archived ones are hidden by default');
    const archived = (await bob.call('notifications.list', { archived: true })).notifications;
    assert.deepEqual(
      archived.map((n) => [n.id, n.read, n.archived]),
      [
        [second.id, true, true],
        [first.id, true, true],
      ],
    );
    assert.deepEqual((await bob.call('notifications.list', { archived: true, unreadOnly: true })).notifications, []);
    assert.deepEqual(ids((await cy.call('notifications.list', { limit: 2 })).notifications), [second.id, first.id], 'archiving is one recipient’s');

    assert.deepEqual(await bob.call('notifications.archive', { notificationId: first.id, archived: false }), { ok: true, unread: 0 });
    const back = (await bob.call('notifications.list', { limit: 1 })).notifications[0];
    assert.deepEqual([back?.id, back?.read, back?.archived], [first.id, true, false], 'unarchived: back in the feed, still read');
    assert.deepEqual(ids((await bob.call('notifications.list', { archived: true })).notifications), [second.id]);
    await countsEqualUnacknowledged(system.persistDatabaseUrl, system.counterDatabaseUrl, bobUser.id);
    await countsEqualUnacknowledged(system.persistDatabaseUrl, system.counterDatabaseUrl, cyUser.id);
  });

  await t.test('another user’s notification, an unknown or forged id is refused and changes nothing', async () => {
    const { notification } = await ada.call('notifications.publish', { topicId: topic.id, title: 'cy’s to keep', body: '', to: [cyUser.id] });
    const cyBefore = (await cy.call('counters.get')).unread;
    // Bob was not a recipient: the notification does not exist for him.
    for (const archived of [true, false]) assert.equal(await code(bob.call('notifications.archive', { notificationId: notification.id, archived })), 'NOT_FOUND');
    // Its publisher is not a recipient either.
    assert.equal(await code(ada.call('notifications.archive', { notificationId: notification.id })), 'NOT_FOUND');
    assert.equal(await code(bob.call('notifications.archive', { notificationId: randomUUID() })), 'NOT_FOUND');
    for (const params of [{ notificationId: 'x' }, { notificationId: notification.id, archived: 'yes' }, { notificationId: notification.id, userId: cyUser.id }, {}]) {
      const error = await failure(bob.call('notifications.archive', params as never));
      assert.ok(error instanceof CallError && error.error.code === 'INVALID_ARGUMENT', JSON.stringify(params));
    }
    for (const params of [{ archived: 'no' }, { archived: null }]) assert.equal(await code(bob.call('notifications.list', params as never)), 'INVALID_ARGUMENT');
    assert.equal((await cy.call('counters.get')).unread, cyBefore);
    const cyItem = (await cy.call('notifications.list', { limit: 1 })).notifications[0];
    assert.deepEqual([cyItem?.id, cyItem?.read, cyItem?.archived], [notification.id, false, false], 'cy’s notification is as it was');
  });
});
