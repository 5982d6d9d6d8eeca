// Marking all read and archiving as participant actions on real persist and counter processes:
// persist claims exactly the number counter takes off or votes no, never claims a delivery an
// acknowledgement holds, stops at its cut-off and at its topic, releases its claims on rollback;
// counter refuses to take off more than is unread; archiving reads before it hides; a topic's
// subscribers by name are its creator's only.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { call, runTransaction, startCluster, type Cluster, type Reply, type Vote } from './helper.ts';

type Feed = { notifications: { id: string; title: string; read: boolean; archived: boolean; publisherName: string; url: string | null }[]; nextCursor: string | null };

async function topicWithSubscribers(cluster: Cluster, creator: string, subscribers: string[]): Promise<string> {
  const topic = await call<{ id: string; creatorName: string; subscriberCount: number }>(cluster.persist, 'POST', '/api/topics', { user: creator, body: { name: `topic-${randomUUID()}`, creatorName: `${creator} (name)` } });
  assert.equal(topic.status, 201);
  assert.equal(topic.body.creatorName, `${creator} (name)`);
  assert.equal(topic.body.subscriberCount, 0);
  for (const user of subscribers) assert.equal((await call(cluster.persist, 'POST', `/api/topics/${topic.body.id}/subscriptions`, { user, body: { name: `${user} (name)` } })).status, 201);
  return topic.body.id;
}

async function publish(cluster: Cluster, topicId: string, recipients: string[], title = 'hello'): Promise<string> {
  const notificationId = randomUUID();
  const { committed } = await runTransaction(`tx-${randomUUID()}`, [
    { node: cluster.persist, action: 'notification.create', payload: { notificationId, topicId, publisherId: 'ada', publisherName: 'Ada L.', title, body: 'b', url: 'https://example.test/a?b=1', recipients } },
    { node: cluster.counter, action: 'notification.create', payload: { notificationId, recipients } },
  ]);
  assert.ok(committed);
  return notificationId;
}

const prepare = (node: Cluster['persist'], txId: string, action: string, payload: unknown) =>
  call<Vote>(node, 'POST', '/api/prepare_2pc', { body: { txId, action, payload, timeoutMs: 30_000 } });
const decide = (node: Cluster['persist'], txId: string, commit: boolean) =>
  commit ? call(node, 'POST', '/api/commit_2pc', { body: { txId } }) : call(node, 'DELETE', '/api/rollback_2pc', { body: { txId } });
const unread = async (cluster: Cluster, user: string) => (await call<{ unread: number }>(cluster.counter, 'GET', `/api/counters/${user}`)).body.unread;
const counted = async (cluster: Cluster, user: string, topicId?: string) =>
  (await call<{ unread: number; cutoff: string }>(cluster.persist, 'GET', `/api/users/${user}/notifications/unread${topicId ? `?topicId=${topicId}` : ''}`, { user })).body;
const feed = async (cluster: Cluster, user: string, query = '') => (await call<Feed>(cluster.persist, 'GET', `/api/users/${user}/notifications${query}`, { user })).body.notifications;

function readAll(cluster: Cluster, payload: { userId: string; topicId?: string; cutoff: string; expected: number }, count = payload.expected) {
  return runTransaction(`read-all-${randomUUID()}`, [
    { node: cluster.persist, action: 'notification.read_all', payload },
    { node: cluster.counter, action: 'notification.read_all', payload: { userId: payload.userId, count } },
  ]);
}

test('marking all read moves persist and counter by the same number, or not at all', async (t) => {
  const cluster = await startCluster(t);
  const topicId = await topicWithSubscribers(cluster, 'ada', ['bob', 'cy']);
  const other = await topicWithSubscribers(cluster, 'ada', ['bob']);

  await t.test('a delivery an acknowledgement holds is not claimed (nor counted) again; a wrong number votes no and claims nothing', async () => {
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await publish(cluster, topicId, ['bob', 'cy'], `n${i}`));
    assert.equal(await unread(cluster, 'bob'), 5);
    // An acknowledgement of the first is prepared on both participants and not decided yet.
    const ackTx = `ack-${randomUUID()}`;
    for (const node of [cluster.persist, cluster.counter]) assert.equal((await prepare(node, ackTx, 'notification.ack', { notificationId: ids[0], userId: 'bob' })).body.vote, 'yes');
    const { unread: four, cutoff } = await counted(cluster, 'bob', topicId);
    assert.equal(four, 4, 'the delivery being acknowledged is not unread for marking all read');

    const wrong = await runTransaction(`read-all-${randomUUID()}`, [{ node: cluster.persist, action: 'notification.read_all', payload: { userId: 'bob', topicId, cutoff, expected: 5 } }]);
    assert.equal(wrong.committed, false);
    assert.equal(wrong.votes[0]!.status, 409);
    assert.equal((await counted(cluster, 'bob', topicId)).unread, 4, 'a no vote leaves every delivery as it was');

    const right = await readAll(cluster, { userId: 'bob', topicId, cutoff, expected: 4 });
    assert.ok(right.committed);
    assert.equal(await unread(cluster, 'bob'), 1, 'counter took off the 4 persist marked');
    for (const node of [cluster.persist, cluster.counter]) assert.equal((await decide(node, ackTx, true)).status, 200);
    assert.equal(await unread(cluster, 'bob'), 0);
    assert.deepEqual((await feed(cluster, 'bob')).map((n) => n.read), [true, true, true, true, true]);
    assert.equal(await unread(cluster, 'cy'), 5, 'another recipient’s deliveries are untouched');
  });

  await t.test('it stops at its cut-off and at its topic', async () => {
    const before = await publish(cluster, topicId, ['bob'], 'before');
    const elsewhere = await publish(cluster, other, ['bob'], 'elsewhere');
    const { unread: one, cutoff } = await counted(cluster, 'bob', topicId);
    assert.equal(one, 1);
    const after = await publish(cluster, topicId, ['bob'], 'after');
    assert.ok((await readAll(cluster, { userId: 'bob', topicId, cutoff, expected: 1 })).committed);
    const read = new Map((await feed(cluster, 'bob')).map((n) => [n.id, n.read]));
    assert.deepEqual([read.get(before), read.get(after), read.get(elsewhere)], [true, false, false]);
    assert.equal(await unread(cluster, 'bob'), 2);
  });

  await t.test('a rollback releases every claim; counter refuses to take off more than is unread', async () => {
    const { unread: two, cutoff } = await counted(cluster, 'bob');
    assert.equal(two, 2);
    const txId = `read-all-${randomUUID()}`;
    assert.equal((await prepare(cluster.persist, txId, 'notification.read_all', { userId: 'bob', cutoff, expected: 2 })).body.vote, 'yes');
    assert.equal((await counted(cluster, 'bob')).unread, 0, 'claimed while prepared');
    assert.equal((await decide(cluster.persist, txId, false)).status, 200);
    assert.equal((await counted(cluster, 'bob')).unread, 2, 'released by the rollback');

    const tooMany: Reply<Vote> = await prepare(cluster.counter, `read-all-${randomUUID()}`, 'notification.read_all', { userId: 'bob', count: 3 });
    assert.equal(tooMany.status, 409);
    assert.equal(tooMany.body.vote, 'no');
    assert.equal(await unread(cluster, 'bob'), 2);
    assert.ok((await readAll(cluster, { userId: 'bob', cutoff, expected: 2 })).committed);
    assert.equal(await unread(cluster, 'bob'), 0);
  });

  await t.test('malformed payloads vote no and change nothing', async () => {
    for (const payload of [{ userId: 'bob', cutoff: 'yesterday', expected: 1 }, { userId: 'bob', cutoff: new Date().toISOString(), expected: 0 }, { userId: 'bob', topicId: 'x', cutoff: new Date().toISOString(), expected: 1 }]) {
      assert.equal((await prepare(cluster.persist, `read-all-${randomUUID()}`, 'notification.read_all', payload)).status, 400);
    }
    assert.equal((await prepare(cluster.counter, `read-all-${randomUUID()}`, 'notification.read_all', { userId: 'bob', count: -1 })).status, 400);
  });
});

test('archiving reads before it hides; names and links are kept; subscribers by name are the creator’s', async (t) => {
  const cluster = await startCluster(t);
  const topicId = await topicWithSubscribers(cluster, 'ada', ['bob', 'cy']);
  const id = await publish(cluster, topicId, ['bob', 'cy']);

  const [item] = await feed(cluster, 'bob');
  assert.deepEqual([item!.publisherName, item!.url, item!.archived], ['Ada L.', 'https://example.test/a?b=1', false]);

  const archive = (user: string, archived: boolean, notificationId = id) => call<{ archived: boolean; read: boolean }>(cluster.persist, 'PUT', `/api/notifications/${notificationId}/archived`, { user, body: { archived } });
  assert.deepEqual((await archive('bob', true)).body, { archived: false, read: false }, 'an unread one is not archived by the plain route');
  assert.equal((await archive('ada', true)).status, 404, 'the publisher has no delivery of it');
  assert.equal((await archive('bob', true, randomUUID())).status, 404);

  // Archived through an acknowledgement that archives.
  const { committed } = await runTransaction(`ack-${randomUUID()}`, [
    { node: cluster.persist, action: 'notification.ack', payload: { notificationId: id, userId: 'bob', archive: true } },
    { node: cluster.counter, action: 'notification.ack', payload: { notificationId: id, userId: 'bob' } },
  ]);
  assert.ok(committed);
  assert.equal(await unread(cluster, 'bob'), 0);
  assert.deepEqual(await feed(cluster, 'bob'), [], 'archived ones are hidden by default');
  assert.deepEqual((await feed(cluster, 'bob', '?archived=true')).map((n) => [n.id, n.read, n.archived]), [[id, true, true]]);
  assert.deepEqual((await feed(cluster, 'cy')).map((n) => [n.id, n.read, n.archived]), [[id, false, false]], 'archiving is per recipient');

  assert.deepEqual((await archive('bob', false)).body, { archived: false, read: true });
  assert.deepEqual((await feed(cluster, 'bob')).map((n) => [n.id, n.read, n.archived]), [[id, true, false]]);
  assert.deepEqual((await archive('bob', true)).body, { archived: true, read: true }, 'a read one is archived by the plain route');
  assert.equal(await unread(cluster, 'bob'), 0);

  // Subscribers by name: the creator only.
  const names = await call<{ subscribers: { id: string; name: string }[]; nextCursor: string | null }>(cluster.persist, 'GET', `/api/topics/${topicId}/subscriber-names?limit=1`, { user: 'ada' });
  assert.deepEqual(names.body.subscribers, [{ id: 'bob', name: 'bob (name)' }]);
  const rest = await call<{ subscribers: { id: string; name: string }[]; nextCursor: string | null }>(cluster.persist, 'GET', `/api/topics/${topicId}/subscriber-names?limit=1&cursor=${names.body.nextCursor}`, { user: 'ada' });
  assert.deepEqual(rest.body, { subscribers: [{ id: 'cy', name: 'cy (name)' }], nextCursor: null });
  assert.equal((await call(cluster.persist, 'GET', `/api/topics/${topicId}/subscriber-names`, { user: 'bob' })).status, 403);
  assert.equal((await call(cluster.persist, 'GET', `/api/topics/${randomUUID()}/subscriber-names`, { user: 'ada' })).status, 404);
  assert.equal((await call(cluster.persist, 'GET', `/api/topics/${topicId}/subscriber-names?cursor=${Buffer.from('{"t":1}').toString('base64url')}`, { user: 'ada' })).status, 400);
  const topic = await call<{ subscriberCount: number; creatorName: string }>(cluster.persist, 'GET', `/api/topics/${topicId}`, { user: 'bob' });
  assert.deepEqual([topic.body.subscriberCount, topic.body.creatorName], [2, 'ada (name)']);
});
