// notification.create with `audience: 'subscribers'`: the recipients must still be the topic's
// whole subscriber list at prepare, else persist votes no (SUBSCRIBERS_CHANGED) and stores nothing,
// so a gateway publishing from a cached list never silently leaves a new subscriber out.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { call, startCluster } from './helper.ts';

type Vote = { vote: 'yes' | 'no'; request_id?: string; error?: { code: string; message: string; details: Record<string, unknown> } };

test('a stale subscriber list votes no; an exact one, or a listed subset, votes yes', async (t) => {
  const { persist, persistDatabaseUrl } = await startCluster(t, { counter: false });
  const db = new pg.Client({ connectionString: persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());
  const stored = async (notificationId: string) =>
    (
      await db.query(
        'SELECT (SELECT count(*) FROM notifications WHERE id = $1)::int AS notifications, (SELECT count(*) FROM deliveries WHERE notification_id = $1)::int AS deliveries',
        [notificationId],
      )
    ).rows[0];

  const topic = await call<{ id: string }>(persist, 'POST', '/api/topics', { user: 'ada', body: { name: 'news' } });
  const topicId = topic.body.id;
  const subscribe = async (user: string) => assert.equal((await call(persist, 'POST', `/api/topics/${topicId}/subscriptions`, { user })).status, 201);
  const subscribers = async () => (await call<{ subscribers: string[] }>(persist, 'GET', `/api/topics/${topicId}/subscribers?limit=10000`, { user: 'ada' })).body.subscribers;
  const prepare = (notificationId: string, recipients: string[], audience?: string) =>
    call<Vote>(persist, 'POST', '/api/prepare_2pc', {
      body: { txId: `tx-${notificationId}`, action: 'notification.create', payload: { notificationId, topicId, publisherId: 'ada', title: 't', body: 'b', recipients, ...(audience ? { audience } : {}) }, timeoutMs: 60_000 },
    });
  const commit = async (notificationId: string) => assert.equal((await call(persist, 'POST', '/api/commit_2pc', { body: { txId: `tx-${notificationId}` } })).status, 200);
  const feed = async (user: string) => (await call<{ notifications: { id: string }[] }>(persist, 'GET', `/api/users/${user}/notifications`, { user })).body.notifications.map((n) => n.id);

  await subscribe('bob');
  await subscribe('cy');

  await t.test('someone subscribed after the list was read: SUBSCRIBERS_CHANGED, nothing stored', async () => {
    const list = await subscribers();
    assert.deepEqual(list, ['bob', 'cy']);
    await subscribe('dan');
    const notificationId = randomUUID();
    const vote = await prepare(notificationId, list, 'subscribers');
    assert.equal(vote.status, 409);
    assert.equal(vote.body.vote, 'no');
    assert.equal(vote.body.error?.code, 'CONFLICT');
    assert.deepEqual(vote.body.error?.details, { topicId, reason: 'SUBSCRIBERS_CHANGED', subscribers: 3 });
    assert.deepEqual(await stored(notificationId), { notifications: 0, deliveries: 0 });
    assert.equal((await call<{ state: string }>(persist, 'GET', `/api/2pc/tx-${notificationId}`)).body.state, 'aborted');
  });

  await t.test('the list read again is exact: yes, and every subscriber gets it', async () => {
    const list = await subscribers();
    assert.deepEqual(list, ['bob', 'cy', 'dan']);
    const notificationId = randomUUID();
    const vote = await prepare(notificationId, list, 'subscribers');
    assert.equal(vote.status, 200, JSON.stringify(vote.body));
    assert.equal(vote.body.vote, 'yes');
    await commit(notificationId);
    for (const user of list) assert.ok((await feed(user)).includes(notificationId), user);
  });

  await t.test('listed (the default, or said) takes any subset of the subscribers', async () => {
    for (const audience of [undefined, 'listed']) {
      const notificationId = randomUUID();
      const vote = await prepare(notificationId, ['bob'], audience);
      assert.equal(vote.body.vote, 'yes', `${audience}: ${JSON.stringify(vote.body)}`);
      await commit(notificationId);
      assert.deepEqual(await stored(notificationId), { notifications: 1, deliveries: 1 });
      assert.ok(!(await feed('dan')).includes(notificationId));
    }
  });

  await t.test('no recipients is the whole audience only of a topic nobody follows', async () => {
    const empty = await prepare(randomUUID(), [], 'subscribers');
    assert.equal(empty.status, 409);
    assert.equal(empty.body.error?.details.reason, 'SUBSCRIBERS_CHANGED');
    const quiet = await call<{ id: string }>(persist, 'POST', '/api/topics', { user: 'ada', body: { name: 'quiet' } });
    const notificationId = randomUUID();
    const vote = await call<Vote>(persist, 'POST', '/api/prepare_2pc', {
      body: { txId: `tx-${notificationId}`, action: 'notification.create', payload: { notificationId, topicId: quiet.body.id, publisherId: 'ada', title: 't', body: 'b', recipients: [], audience: 'subscribers' }, timeoutMs: 60_000 },
    });
    assert.equal(vote.body.vote, 'yes', JSON.stringify(vote.body));
    await commit(notificationId);
  });

  await t.test('the request_id route takes audience too', async () => {
    const seed = (notificationId: string, recipients: string[]) =>
      call<Vote>(persist, 'POST', '/api/notifications', {
        body: { is_2pc_locked: true, notificationId, topicId, publisherId: 'ada', title: 'seed', body: 'b', recipients, audience: 'subscribers' },
      });
    const stale = randomUUID();
    const refused = await seed(stale, ['bob', 'cy']);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.vote, 'no');
    assert.equal(refused.body.error?.details.reason, 'SUBSCRIBERS_CHANGED');
    assert.deepEqual(await stored(stale), { notifications: 0, deliveries: 0 });
    const exact = await seed(randomUUID(), ['bob', 'cy', 'dan']);
    assert.equal(exact.status, 201, JSON.stringify(exact.body));
    assert.equal(exact.body.vote, 'yes');
    assert.equal((await call(persist, 'POST', '/api/notifications/commit_2pc', { body: { request_id: exact.body.request_id } })).status, 200);
  });

  await t.test('an unknown audience is a malformed prepare', async () => {
    const vote = await prepare(randomUUID(), ['bob'], 'everyone');
    assert.equal(vote.status, 400);
    assert.equal(vote.body.vote, 'no');
    assert.equal(vote.body.error?.code, 'INVALID_ARGUMENT');
  });
});
