// Notifications as two-phase commits across real persist and counter processes: visible together
// at commit, gone at rollback, creator-only, idempotent decisions, conflicting acks, the older request_id
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
    // Phase 2 goes to both at once, as a coordinator sends it.
    const commits = await Promise.all([cluster.persist, cluster.counter].map((node) => call(node, 'POST', '/api/commit_2pc', { body: { txId: publication.txId } })));
    assert.deepEqual(commits.map((commit) => commit.status), [200, 200]);
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
    // `emailed` is kept once per recipient: the mailer reporting it again (a retry) adds nothing.
    const emailed = { type: 'emailed', recipientId: 'cy', detail: { messageId: '<m@x>' } };
    assert.equal((await call(cluster.persist, 'POST', `/api/notifications/${publication.notificationId}/events`, { body: emailed })).status, 201);
    const repeat = await call<{ duplicate?: boolean }>(cluster.persist, 'POST', `/api/notifications/${publication.notificationId}/events`, { body: emailed });
    assert.deepEqual([repeat.status, repeat.body.duplicate], [200, true]);
    const batch = await call<{ recorded: number }>(cluster.persist, 'POST', `/api/notifications/${publication.notificationId}/events/batch`, { body: { events: [emailed, { type: 'delivered', recipientId: 'cy' }] } });
    assert.equal(batch.body.recorded, 1, 'the batch skips the emailed event already there');
    const trace = await call<{ events: { type: string; recipientId: string | null }[] }>(cluster.persist, 'GET', `/api/notifications/${publication.notificationId}/trace`, { user: 'ada' });
    assert.deepEqual(trace.body.events.map((event) => [event.type, event.recipientId]), [['prepared', null], ['committed', null], ['acked', 'bob'], ['delivered', 'cy'], ['emailed', 'cy'], ['delivered', 'cy']]);
    assert.equal((await call(cluster.persist, 'GET', `/api/notifications/${publication.notificationId}/trace`, { user: 'mallory' })).status, 403);
    // A recipient sees the notification's life and its own events, nothing of another recipient.
    const mine = (user: string) => call<{ events: { type: string; recipientId: string | null }[] }>(cluster.persist, 'GET', `/api/notifications/${publication.notificationId}/trace`, { user });
    assert.deepEqual((await mine('bob')).body.events.map((event) => [event.type, event.recipientId]), [['prepared', null], ['committed', null], ['acked', 'bob']]);
    assert.deepEqual((await mine('cy')).body.events.map((event) => [event.type, event.recipientId]), [['prepared', null], ['committed', null], ['delivered', 'cy'], ['emailed', 'cy'], ['delivered', 'cy']]);
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

  await t.test('the request_id routes: POST /api/notifications with is_2pc_locked, then commit_2pc with its request_id', async () => {
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
    assert.equal((await call(cluster.persist, 'DELETE', '/api/notifications/rollback_2pc', { body: { request_id: randomUUID() } })).status, 200, 'presumed abort');
    assert.equal((await call(cluster.persist, 'POST', '/api/notifications/commit_2pc', { body: { request_id: 'nope' } })).status, 400);
  });

  await t.test('a publication keeps the trace id it was made in; a malformed one is refused and stores nothing', async () => {
    const traceOf = async (notificationId: string) => (await call<{ traceId: string | null }>(cluster.persist, 'GET', `/api/notifications/${notificationId}/trace`, { user: 'ada' })).body.traceId;
    const plain = publish(cluster, topicId, 'ada', ['bob'], 'untraced');
    assert.equal((await plain.run()).committed, true);
    assert.equal(await traceOf(plain.notificationId), null, 'made with tracing off: no trace id');

    const traced = (traceId: string) => {
      const notificationId = randomUUID();
      return {
        notificationId,
        run: () =>
          runTransaction(`tx-${randomUUID()}`, [
            { node: cluster.persist, action: 'notification.create', payload: { notificationId, topicId, publisherId: 'ada', title: 'traced', body: '', recipients: ['bob'], traceId } },
            { node: cluster.counter, action: 'notification.create', payload: { notificationId, recipients: ['bob'] } },
          ]),
      };
    };
    const good = traced('4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal((await good.run()).committed, true);
    assert.equal(await traceOf(good.notificationId), '4bf92f3577b34da6a3ce929d0e0e4736');

    for (const bad of ['4BF92F3577B34DA6A3CE929D0E0E4736', '4bf92f3577b34da6', '0'.repeat(32), 'x'.repeat(32)]) {
      const refused = traced(bad);
      const result = await refused.run();
      assert.equal(result.committed, false, bad);
      assert.equal(result.votes[0]!.status, 400, `${bad}: ${JSON.stringify(result.votes[0]!.body)}`);
      assert.equal((await call(cluster.persist, 'GET', `/api/notifications/${refused.notificationId}/trace`, { user: 'ada' })).status, 404, 'nothing stored');
    }
  });
});

test('200 concurrent publications and acknowledgements leave every count equal to its unacknowledged deliveries', async (t) => {
  // No gateway in front to admit a few at a time: all 200 wait for the participants' pools at once,
  // which on a loaded CI machine takes longer than the default 10 s, so they may wait 2 minutes.
  const cluster = await startCluster(t, { env: { TWO_PC_DB_TIMEOUT_MS: '120000' } });
  const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
  const topics = await Promise.all([0, 1, 2, 3].map((i) => topicWithSubscribers(cluster, 'publisher', users.filter((_, u) => (u + i) % 2 === 0 || u % 3 === i % 3))));
  const subscribersOf = async (topicId: string) => (await call<{ subscribers: string[] }>(cluster.persist, 'GET', `/api/topics/${topicId}/subscribers?limit=100`, { user: 'publisher' })).body.subscribers;
  const recipientsByTopic = new Map(await Promise.all(topics.map(async (topicId) => [topicId, await subscribersOf(topicId)] as const)));

  // 200 publications, every tenth to a non-subscriber (persist votes no, so it aborts on both
  // sides); each committed one is acknowledged by a third of its recipients as soon as it commits,
  // some twice at once, while other publications are still being prepared and committed.
  let acknowledged = 0;
  const outcomes = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const topicId = topics[i % topics.length]!;
      const subscribers = recipientsByTopic.get(topicId)!;
      const recipients = i % 10 === 9 ? [...subscribers, 'not-a-subscriber'] : subscribers;
      const publication = publish(cluster, topicId, 'publisher', recipients, `n${i}`);
      const { committed } = await publication.run();
      if (!committed) return { committed, expected: i % 10 === 9 };
      const ackers = subscribers.filter((_, r) => (i + r) % 3 === 0);
      const attempts = ackers.flatMap((user, k) => (k === 0 ? [user, user] : [user]));
      const results = await Promise.all(attempts.map((user) => ack(cluster, publication.notificationId, user)));
      acknowledged += results.filter((result) => result.committed).length;
      assert.equal(results.filter((result) => result.committed).length, ackers.length, 'each delivery is acknowledged exactly once');
      return { committed, expected: i % 10 !== 9 };
    }),
  );
  assert.ok(outcomes.every((outcome) => outcome.expected), 'exactly the publications to non-subscribers aborted');
  assert.ok(acknowledged > 100, `${acknowledged} acknowledgements committed`);

  const persistDb = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
  await persistDb.connect();
  t.after(() => persistDb.end());
  for (const user of users) {
    const { rows } = await persistDb.query("SELECT count(*)::int AS n FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.recipient_id = $1 AND d.ack_state <> 'acked' AND n.state = 'committed'", [user]);
    assert.equal(await unread(cluster, user), rows[0].n, `${user}: counter equals unacknowledged deliveries`);
  }
  const { rows: leftovers } = await persistDb.query("SELECT (SELECT count(*) FROM deliveries WHERE ack_state = 'pending')::int AS pending_acks, (SELECT count(*) FROM notifications WHERE state = 'pending')::int AS pending_notifications");
  assert.deepEqual(leftovers[0], { pending_acks: 0, pending_notifications: 0 });
  const counterDb = new pg.Client({ connectionString: cluster.counterDatabaseUrl });
  await counterDb.connect();
  t.after(() => counterDb.end());
  assert.equal((await counterDb.query('SELECT count(*)::int AS n FROM staged_changes')).rows[0].n, 0, 'nothing left staged');
  const persistMetrics = await (await fetch(`${cluster.persist.url}/metrics`)).text();
  const counterMetrics = await (await fetch(`${cluster.counter.url}/metrics`)).text();
  assert.match(persistMetrics, /^twopc_participant_in_doubt\{service="persist"\} 0$/m);
  assert.match(counterMetrics, /^twopc_participant_in_doubt\{service="counter"\} 0$/m);
  // The 20 aborted publications: persist voted no, counter rolled back what it had staged.
  assert.match(persistMetrics, /^twopc_participant_prepares_total\{action="notification.create",vote="no",service="persist"\} 20$/m);
  assert.match(counterMetrics, /^twopc_participant_rollbacks_total\{action="notification.create",service="counter"\} 20$/m);
});

test('only the coordinator may prepare or decide, and only the gateway may act for a user: forged calls write nothing', async (t) => {
  const cluster = await startCluster(t);
  const topicId = await topicWithSubscribers(cluster, 'ada', ['cy']);
  const notificationId = randomUUID();
  const txId = `tx-${randomUUID()}`;
  const forgedPersist = { txId, action: 'notification.create', payload: { notificationId, topicId, publisherId: 'ada', title: 'from ada, not really', body: '', recipients: ['cy'] }, timeoutMs: 3_600_000 };
  const forgedCounter = { txId, action: 'notification.create', payload: { notificationId, recipients: ['cy'] }, timeoutMs: 3_600_000 };
  // No credential, a bare X-User-Id, or another service's credential: refused before anything is read.
  for (const [as, status] of [[null, 401], ['mailer', 403], ['persist', 403], ['auth', 403]] as const) {
    assert.equal((await call(cluster.persist, 'POST', '/api/prepare_2pc', { as, body: forgedPersist })).status, status, `persist prepare as ${as}`);
    assert.equal((await call(cluster.counter, 'POST', '/api/prepare_2pc', { as, body: forgedCounter })).status, status, `counter prepare as ${as}`);
    assert.equal((await call(cluster.persist, 'POST', '/api/commit_2pc', { as, body: { txId } })).status, status, `persist commit as ${as}`);
    assert.equal((await call(cluster.persist, 'POST', '/api/topics', { as, user: 'ada', body: { name: 'not ada’s' } })).status, status, `topic as ${as}`);
    assert.equal((await call(cluster.persist, 'GET', '/api/users/cy/notifications', { as, user: 'cy' })).status, status, `cy's feed as ${as}`);
  }
  const bare = await fetch(`${cluster.persist.url}/api/users/cy/notifications`, { headers: { 'x-user-id': 'cy' } });
  assert.equal(bare.status, 401, 'X-User-Id alone proves nothing');
  assert.deepEqual([(await feed(cluster, 'cy')).notifications, await unread(cluster, 'cy')], [[], 0], 'nothing reached cy');
  const db = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());
  assert.equal((await db.query('SELECT count(*)::int AS n FROM two_phase_transactions WHERE tx_id = $1', [txId])).rows[0].n, 0, 'no prepared record');
  assert.equal((await db.query('SELECT count(*)::int AS n FROM topics')).rows[0].n, 1, 'only ada’s own topic');
});
