// What the gateway reads and reports in bulk: a topic's subscribers in pages of up to 10,000 (other
// lists stay at 100), and delivered/emailed events in batches recorded all or nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { call, runTransaction, startCluster } from './helper.ts';

type Subscribers = { topic: { id: string; name: string; creatorId: string }; subscribers: string[]; nextCursor: string | null };
type ErrorBody = { error: { code: string; message: string; details: { recipients?: string[]; unknownCount?: number } } };

test('subscriber pages of up to 10,000 and batches of lifecycle events', async (t) => {
  const cluster = await startCluster(t, { counter: false });
  const { persist } = cluster;
  const db = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());
  const events = async (notificationId: string) =>
    (await db.query('SELECT count(*)::int AS n FROM notification_events WHERE notification_id = $1', [notificationId])).rows[0].n as number;

  // 10,001 subscribers, written directly: through the API it would take 10,001 requests.
  const topic = await call<{ id: string }>(persist, 'POST', '/api/topics', { user: 'ada', body: { name: 'crowded' } });
  assert.equal(topic.status, 201);
  const users = Array.from({ length: 10_001 }, (_, i) => `u${String(i + 1).padStart(5, '0')}`);
  await db.query('INSERT INTO subscriptions (topic_id, user_id) SELECT $1::uuid, unnest($2::text[])', [topic.body.id, users]);

  // One committed notification to all of them, and one left prepared (pending, invisible).
  const committedId = randomUUID();
  const committedTx = `tx-${randomUUID()}`;
  const publication = await runTransaction(committedTx, [
    { node: persist, action: 'notification.create', payload: { notificationId: committedId, topicId: topic.body.id, publisherId: 'ada', title: 'all', body: '', recipients: users } },
  ]);
  assert.equal(publication.committed, true, JSON.stringify(publication.votes[0]?.body));
  const pendingId = randomUUID();
  const pendingTx = `tx-${randomUUID()}`;
  const prepared = await call<{ vote: string }>(persist, 'POST', '/api/prepare_2pc', {
    body: { txId: pendingTx, action: 'notification.create', payload: { notificationId: pendingId, topicId: topic.body.id, publisherId: 'ada', title: 'pending', body: '', recipients: ['u00001'] }, timeoutMs: 60_000 },
  });
  assert.equal(prepared.body.vote, 'yes');

  await t.test('subscribers come in pages of up to 10,000; the default stays 20 and other lists stay at 100', async () => {
    const first = await call<Subscribers>(persist, 'GET', `/api/topics/${topic.body.id}/subscribers?limit=10000`, { user: 'gateway' });
    assert.equal(first.status, 200);
    assert.equal(first.body.subscribers.length, 10_000);
    assert.deepEqual(first.body.subscribers, users.slice(0, 10_000));
    assert.ok(first.body.nextCursor);
    const second = await call<Subscribers>(persist, 'GET', `/api/topics/${topic.body.id}/subscribers?limit=10000&cursor=${first.body.nextCursor}`, { user: 'gateway' });
    assert.deepEqual({ ...second.body, topic: undefined }, { topic: undefined, subscribers: ['u10001'], muted: [], emailOptOut: [], nextCursor: null });
    assert.deepEqual([second.body.topic.id, second.body.topic.name, second.body.topic.creatorId], [topic.body.id, 'crowded', 'ada'], 'every page names its topic');
    const byDefault = await call<Subscribers>(persist, 'GET', `/api/topics/${topic.body.id}/subscribers`, { user: 'gateway' });
    assert.deepEqual(byDefault.body.subscribers, users.slice(0, 20));

    for (const path of [
      `/api/topics/${topic.body.id}/subscribers?limit=10001`,
      `/api/topics/${topic.body.id}/subscribers?limit=0`,
      '/api/topics?limit=101',
      '/api/users/ada/notifications?limit=101',
    ]) {
      const refused = await call<ErrorBody>(persist, 'GET', path, { user: 'ada' });
      assert.equal(refused.status, 400, path);
      assert.equal(refused.body.error.code, 'INVALID_ARGUMENT');
    }
  });

  await t.test('a batch is recorded in one go and joins the trace', async () => {
    const batch = await call(persist, 'POST', `/api/notifications/${committedId}/events/batch`, {
      body: {
        events: [
          { type: 'delivered', recipientId: 'u00001', detail: { connection: 'ws-1' } },
          { type: 'delivered', recipientId: 'u00001', detail: { connection: 'ws-2' } },
          { type: 'emailed', recipientId: 'u00002' },
        ],
      },
    });
    assert.equal(batch.status, 201);
    assert.deepEqual(batch.body, { recorded: 3 });
    const trace = await call<{ events: { type: string; recipientId: string | null; detail: unknown }[] }>(persist, 'GET', `/api/notifications/${committedId}/trace`, { user: 'ada' });
    assert.deepEqual(
      trace.body.events.map((event) => [event.type, event.recipientId, event.detail]),
      [
        ['prepared', null, { txId: committedTx, recipients: 10_001 }],
        ['committed', null, null],
        ['delivered', 'u00001', { connection: 'ws-1' }],
        ['delivered', 'u00001', { connection: 'ws-2' }],
        ['emailed', 'u00002', null],
      ],
    );
  });

  await t.test('10,000 events at once are recorded', async () => {
    const before = await events(committedId);
    const batch = await call(persist, 'POST', `/api/notifications/${committedId}/events/batch`, {
      body: { events: users.slice(0, 10_000).map((recipientId) => ({ type: 'delivered', recipientId })) },
    });
    assert.equal(batch.status, 201);
    assert.deepEqual(batch.body, { recorded: 10_000 });
    assert.equal(await events(committedId), before + 10_000);
  });

  await t.test('one unknown recipient, or a notification not committed, records nothing: 404 naming up to 20 of them', async () => {
    const before = [await events(committedId), await events(pendingId)];
    const strangers = Array.from({ length: 25 }, (_, i) => `stranger-${i}`);
    const some = await call<ErrorBody>(persist, 'POST', `/api/notifications/${committedId}/events/batch`, {
      body: { events: [{ type: 'delivered', recipientId: 'u00003' }, { type: 'delivered', recipientId: 'mallory' }, { type: 'emailed', recipientId: 'mallory' }, { type: 'emailed', recipientId: 'eve' }] },
    });
    assert.equal(some.status, 404);
    assert.equal(some.body.error.code, 'NOT_FOUND');
    assert.deepEqual(some.body.error.details.recipients, ['mallory', 'eve']);
    assert.equal(some.body.error.details.unknownCount, 2);

    const many = await call<ErrorBody>(persist, 'POST', `/api/notifications/${committedId}/events/batch`, {
      body: { events: strangers.map((recipientId) => ({ type: 'delivered', recipientId })) },
    });
    assert.equal(many.status, 404);
    assert.deepEqual(many.body.error.details.recipients, strangers.slice(0, 20));
    assert.equal(many.body.error.details.unknownCount, 25);

    const pending = await call<ErrorBody>(persist, 'POST', `/api/notifications/${pendingId}/events/batch`, { body: { events: [{ type: 'delivered', recipientId: 'u00001' }] } });
    assert.equal(pending.status, 404, 'a prepared notification is not there yet');
    assert.deepEqual(pending.body.error.details.recipients, ['u00001']);
    const nowhere = await call<ErrorBody>(persist, 'POST', `/api/notifications/${randomUUID()}/events/batch`, { body: { events: [{ type: 'delivered', recipientId: 'u00001' }] } });
    assert.equal(nowhere.status, 404);
    assert.deepEqual([await events(committedId), await events(pendingId)], before);
  });

  await t.test('malformed batches are 400 and record nothing', async () => {
    const before = await events(committedId);
    const path = `/api/notifications/${committedId}/events/batch`;
    const cases: [string, unknown][] = [
      [path, { events: [] }],
      [path, { events: Array.from({ length: 10_001 }, () => ({ type: 'delivered', recipientId: 'u00001' })) }],
      [path, { events: [{ type: 'acked', recipientId: 'u00001' }] }],
      [path, { events: [{ type: 'delivered', recipientId: '' }] }],
      [path, { events: [{ type: 'delivered', recipientId: 'u00001', extra: true }] }],
      [path, { events: [{ type: 'delivered', recipientId: 'u00001', detail: { nested: { no: 1 } } }] }],
      [path, { events: { type: 'delivered', recipientId: 'u00001' } }],
      [path, { events: [{ type: 'delivered', recipientId: 'u00001' }], more: 1 }],
      [path, [{ type: 'delivered', recipientId: 'u00001' }]],
      ['/api/notifications/not-a-uuid/events/batch', { events: [{ type: 'delivered', recipientId: 'u00001' }] }],
    ];
    for (const [target, body] of cases) {
      const response = await call<ErrorBody>(persist, 'POST', target, { body });
      assert.equal(response.status, 400, `${target} ${JSON.stringify(body).slice(0, 100)}`);
      assert.equal(response.body.error.code, 'INVALID_ARGUMENT');
    }
    assert.equal(await events(committedId), before);
  });

  assert.equal((await call(persist, 'DELETE', '/api/rollback_2pc', { body: { txId: pendingTx } })).status, 200, 'the pending one is rolled back');
});
