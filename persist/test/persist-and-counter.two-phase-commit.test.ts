// Notifications as two-phase commits across real persist and counter processes: visible together
// at commit, gone at rollback, creator-only, idempotent decisions, conflicting acks, the seed's
// routes, and counts that equal the unacknowledged deliveries after 200 concurrent transactions.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { call, runTransaction, startCluster, type Cluster } from './helper.ts';

type Feed = { notifications: { id: string; title: string; read: boolean }[]; nextCursor: string | null };

async function topicWithSubscribers(cluster: Cluster, creator: string, subscribers: string[]): Promise<string> {
  const topic = await call<{ id: string }>(cluster.persist, 'POST', '/api/topics', { user: creator, body: { name: `topic-${randomUUID()}` } });
  assert.equal(topic.status, 201);
  for (const user of subscribers) assert.equal((await call(cluster.persist, 'POST', `/api/topics/${topic.body.id}/subscriptions`, { user })).status, 201);
  return topic.body.id;
}

function publish(cluster: Cluster, topicId: string, publisherId: string, recipients: string[], title = 'hello') {
  const notificationId = randomUUID();
  const txId = `tx-${randomUUID()}`;
  return {
    notificationId,
    txId,
    run: () =>
      runTransaction(txId, [
        { node: cluster.persist, action: 'notification.create', payload: { notificationId, topicId, publisherId, title, body: 'body', recipients } },
        { node: cluster.counter, action: 'notification.create', payload: { notificationId, recipients } },
      ]),
  };
}

function ack(cluster: Cluster, notificationId: string, userId: string) {
  return runTransaction(`ack-${randomUUID()}`, [
    { node: cluster.persist, action: 'notification.ack', payload: { notificationId, userId } },
    { node: cluster.counter, action: 'notification.ack', payload: { notificationId, userId } },
  ]);
}

const unread = async (cluster: Cluster, user: string) => (await call<{ unread: number }>(cluster.counter, 'GET', `/api/counters/${user}`)).body.unread;
const feed = async (cluster: Cluster, user: string, query = '') => (await call<Feed>(cluster.persist, 'GET', `/api/users/${user}/notifications${query}`, { user })).body;

test('notifications commit across persist and counter together, or not at all', async (t) => {
  const cluster = await startCluster(t);
  const topicId = await topicWithSubscribers(cluster, 'ada', ['bob', 'cy']);

  await t.test('prepare → commit makes the notification and both counts visible together; ack lowers the count', async () => {
    const publication = publish(cluster, topicId, 'ada', ['bob', 'cy'], 'first');
    const votes = await Promise.all([
      call(cluster.persist, 'POST', '/api/prepare_2pc', { body: { txId: publication.txId, action: 'notification.create', payload: { notificationId: publication.notificationId, topicId, publisherId: 'ada', title: 'first', body: 'b', recipients: ['bob', 'cy'] }, timeoutMs: 30_000 } }),
      call(cluster.counter, 'POST', '/api/prepare_2pc', { body: { txId: publication.txId, action: 'notification.create', payload: { notificationId: publication.notificationId, recipients: ['bob', 'cy'] }, timeoutMs: 30_000 } }),
    ]);
    assert.deepEqual(votes.map((vote) => vote.body.vote), ['yes', 'yes']);
    assert.deepEqual((await feed(cluster, 'bob')).notifications, [], 'locked rows are invisible');
    assert.equal(await unread(cluster, 'bob'), 0);
    for (const node of [cluster.persist, cluster.counter]) assert.equal((await call(node, 'POST', '/api/commit_2pc', { body: { txId: publication.txId } })).status, 200);
    assert.deepEqual((await feed(cluster, 'bob')).notifications.map((n) => [n.title, n.read]), [['first', false]]);
    assert.deepEqual([await unread(cluster, 'bob'), await unread(cluster, 'cy')], [1, 1]);

    // Duplicate decisions are harmless; the opposite decision is refused and changes nothing.
    for (const node of [cluster.persist, cluster.counter]) {
      assert.equal((await call(node, 'POST', '/api/commit_2pc', { body: { txId: publication.txId } })).status, 200);
      assert.equal((await call(node, 'DELETE', '/api/rollback_2pc', { body: { txId: publication.txId } })).status, 409);
    }
    assert.equal(await unread(cluster, 'bob'), 1);

    assert.equal((await ack(cluster, publication.notificationId, 'bob')).committed, true);
    assert.equal(await unread(cluster, 'bob'), 0);
    assert.deepEqual((await feed(cluster, 'bob', '?unreadOnly=true')).notifications, []);
    assert.equal((await feed(cluster, 'bob')).notifications[0]!.read, true);

    // The same ack again: persist votes no, so nothing changes anywhere.
    const again = await ack(cluster, publication.notificationId, 'bob');
    assert.equal(again.committed, false);
    assert.equal(again.votes[0]!.status, 409);
    assert.equal(await unread(cluster, 'bob'), 0);

    // Delivered and emailed events join the trace, which the publisher and recipients may read.
    assert.equal((await call(cluster.persist, 'POST', `/api/notifications/${publication.notificationId}/events`, { body: { type: 'delivered', recipientId: 'cy', detail: { connection: 'ws-1' } } })).status, 201);
    const trace = await call<{ events: { type: string; recipientId: string | null }[] }>(cluster.persist, 'GET', `/api/notifications/${publication.notificationId}/trace`, { user: 'ada' });
    assert.deepEqual(trace.body.events.map((event) => [event.type, event.recipientId]), [['prepared', null], ['committed', null], ['acked', 'bob'], ['delivered', 'cy']]);
    assert.equal((await call(cluster.persist, 'GET', `/api/notifications/${publication.notificationId}/trace`, { user: 'mallory' })).status, 403);
  });

  await t.test('prepare → rollback leaves nothing in either database', async () => {
    const publication = publish(cluster, topicId, 'ada', ['bob']);
    await Promise.all([
      call(cluster.persist, 'POST', '/api/prepare_2pc', { body: { txId: publication.txId, action: 'notification.create', payload: { notificationId: publication.notificationId, topicId, publisherId: 'ada', title: 'gone', body: '', recipients: ['bob'] }, timeoutMs: 30_000 } }),
      call(cluster.counter, 'POST', '/api/prepare_2pc', { body: { txId: publication.txId, action: 'notification.create', payload: { notificationId: publication.notificationId, recipients: ['bob'] }, timeoutMs: 30_000 } }),
    ]);
    for (const node of [cluster.persist, cluster.counter]) {
      assert.equal((await call(node, 'DELETE', '/api/rollback_2pc', { body: { txId: publication.txId } })).status, 200);
      assert.equal((await call(node, 'DELETE', '/api/rollback_2pc', { body: { txId: publication.txId } })).status, 200);
      assert.equal((await call(node, 'POST', '/api/commit_2pc', { body: { txId: publication.txId } })).status, 409);
    }
    const persistDb = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
    await persistDb.connect();
    t.after(() => persistDb.end());
    const rows = await persistDb.query('SELECT (SELECT count(*) FROM notifications WHERE id = $1)::int AS n, (SELECT count(*) FROM deliveries WHERE notification_id = $1)::int AS d', [publication.notificationId]);
    assert.deepEqual(rows.rows[0], { n: 0, d: 0 });
    assert.equal(await unread(cluster, 'bob'), 0);
  });

  await t.test('a non-creator cannot publish: persist votes FORBIDDEN and nothing is committed', async () => {
    const result = await publish(cluster, topicId, 'mallory', ['bob']).run();
    assert.equal(result.committed, false);
    assert.equal(result.votes[0]!.status, 403);
    assert.equal(result.votes[0]!.body.error?.code, 'FORBIDDEN');
    assert.equal(await unread(cluster, 'bob'), 0);
    const stale = await publish(cluster, topicId, 'ada', ['bob', 'not-a-subscriber']).run();
    assert.equal(stale.committed, false, 'recipients must be subscribers');
    assert.equal(stale.votes[0]!.body.error?.code, 'CONFLICT');
  });

  await t.test('the seed routes: POST /api/notifications with is_2pc_locked, then commit_2pc with its request_id', async () => {
    const notificationId = randomUUID();
    const prepared = await call<{ vote: string; request_id: string }>(cluster.persist, 'POST', '/api/notifications', {
      body: { is_2pc_locked: true, notificationId, topicId, publisherId: 'ada', title: 'seed', body: 'b', recipients: ['cy'] },
    });
    assert.equal(prepared.status, 201);
    assert.equal(prepared.body.vote, 'yes');
    assert.ok(!(await feed(cluster, 'cy')).notifications.some((n) => n.id === notificationId));
    assert.equal((await call(cluster.persist, 'POST', '/api/notifications/commit_2pc', { body: { request_id: prepared.body.request_id } })).status, 200);
    assert.ok((await feed(cluster, 'cy')).notifications.some((n) => n.id === notificationId));
    assert.equal((await call(cluster.persist, 'DELETE', '/api/notifications/rollback_2pc', { body: { request_id: prepared.body.request_id } })).status, 409);
    assert.equal((await call(cluster.persist, 'POST', '/api/notifications', { body: { notificationId: randomUUID(), topicId, publisherId: 'ada', title: 't', body: 'b', recipients: [] } })).status, 400, 'is_2pc_locked is required');
    assert.equal((await call(cluster.persist, 'POST', '/api/notifications/commit_2pc', { body: { request_id: randomUUID() } })).status, 404);
    assert.equal((await call(cluster.persist, 'POST', '/api/notifications/commit_2pc', { body: { request_id: 'nope' } })).status, 400);
  });
});

test('200 concurrent publications and acknowledgements leave every count equal to its unacknowledged deliveries', async (t) => {
  const cluster = await startCluster(t);
  const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
  const topics = await Promise.all([0, 1, 2, 3].map((i) => topicWithSubscribers(cluster, 'publisher', users.filter((_, u) => (u + i) % 2 === 0 || u % 3 === i % 3))));
  const subscribersOf = async (topicId: string) => (await call<{ subscribers: string[] }>(cluster.persist, 'GET', `/api/topics/${topicId}/subscribers?limit=100`, { user: 'publisher' })).body.subscribers;
  const recipientsByTopic = new Map(await Promise.all(topics.map(async (topicId) => [topicId, await subscribersOf(topicId)] as const)));

  const published = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const topicId = topics[i % topics.length]!;
      const publication = publish(cluster, topicId, 'publisher', recipientsByTopic.get(topicId)!, `n${i}`);
      const result = await publication.run();
      return { ...publication, recipients: recipientsByTopic.get(topicId)!, committed: result.committed };
    }),
  );
  assert.ok(published.every((p) => p.committed), 'every publication commits');

  // Acknowledge about a third of the deliveries, some of them twice at once.
  const acks = published.flatMap((p, i) => p.recipients.filter((_, r) => (i + r) % 3 === 0).map((user) => ({ notificationId: p.notificationId, user })));
  const attempts = [...acks, ...acks.slice(0, 40)];
  const results = await Promise.all(attempts.map(({ notificationId, user }) => ack(cluster, notificationId, user)));
  assert.equal(results.filter((result) => result.committed).length, acks.length, 'each delivery is acknowledged exactly once');

  const persistDb = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
  await persistDb.connect();
  t.after(() => persistDb.end());
  for (const user of users) {
    const { rows } = await persistDb.query("SELECT count(*)::int AS n FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.recipient_id = $1 AND d.ack_state <> 'acked' AND n.state = 'committed'", [user]);
    assert.equal(await unread(cluster, user), rows[0].n, `${user}: counter equals unacknowledged deliveries`);
  }
  const inDoubt = await (await fetch(`${cluster.persist.url}/metrics`)).text();
  assert.match(inDoubt, /^twopc_participant_in_doubt\{service="persist"\} 0$/m);
});
