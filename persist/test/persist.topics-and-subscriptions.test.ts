// Topics and subscriptions over persist's REST API against a real process and PostgreSQL:
// creation, listing with cursors (one's own topics with their subscriber counts), creator-only
// deletion, subscriptions, and bad input refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { call, startCluster } from './helper.ts';

type Topic = { id: string; name: string; creatorId: string };
type TopicPage = { topics: Topic[]; nextCursor: string | null };
type ErrorBody = { error: { code: string; message: string } };

test('topics and subscriptions', async (t) => {
  // A 1 MiB body limit keeps the oversized case small: the server refuses it before reading it all.
  const { persist, persistDatabaseUrl } = await startCluster(t, { counter: false, env: { BODY_LIMIT_BYTES: '1048576' } });
  const db = new pg.Client({ connectionString: persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());
  const rowCounts = async () =>
    (
      await db.query(
        'SELECT (SELECT count(*) FROM topics)::int AS topics, (SELECT count(*) FROM subscriptions)::int AS subs, (SELECT count(*) FROM notifications)::int AS notifications, (SELECT count(*) FROM deliveries)::int AS deliveries, (SELECT count(*) FROM notification_events)::int AS events, (SELECT count(*) FROM two_phase_transactions)::int AS transactions',
      )
    ).rows[0];

  const created: Topic[] = [];
  for (const [name, user] of [['alpha', 'ada'], ['beta', 'ada'], ['gamma', 'bob'], ['delta', 'ada'], ['epsilon', 'bob']] as const) {
    const response = await call<Topic>(persist, 'POST', '/api/topics', { user, body: { name, description: `about ${name}` } });
    assert.equal(response.status, 201);
    assert.equal(response.body.creatorId, user);
    created.push(response.body);
  }

  await t.test('a taken name is 409', async () => {
    const duplicate = await call<ErrorBody>(persist, 'POST', '/api/topics', { user: 'bob', body: { name: 'alpha' } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error.code, 'CONFLICT');
  });

  await t.test('lists page with cursors, newest first, and filter by creator and subscriber', async () => {
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const response: { status: number; body: TopicPage } = await call<TopicPage>(persist, 'GET', `/api/topics${query}`, { user: 'cy' });
      assert.equal(response.status, 200);
      assert.ok(response.body.topics.length <= 2);
      names.push(...response.body.topics.map((topic) => topic.name));
      cursor = response.body.nextCursor;
      pages += 1;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(names, ['epsilon', 'delta', 'gamma', 'beta', 'alpha']);
    const mine = await call<TopicPage>(persist, 'GET', '/api/topics?mine=true', { user: 'ada' });
    assert.deepEqual(mine.body.topics.map((topic) => topic.name), ['delta', 'beta', 'alpha']);
  });

  await t.test('subscribe (again is fine), list subscribers with cursors, unsubscribe', async () => {
    const topic = created[2]!;
    for (const user of ['u3', 'u1', 'u2']) assert.equal((await call(persist, 'POST', `/api/topics/${topic.id}/subscriptions`, { user })).status, 201);
    assert.equal((await call(persist, 'POST', `/api/topics/${topic.id}/subscriptions`, { user: 'u1' })).status, 200, 'subscribing twice is harmless');
    const first = await call<{ subscribers: string[]; nextCursor: string }>(persist, 'GET', `/api/topics/${topic.id}/subscribers?limit=2`, { user: 'bob' });
    assert.deepEqual(first.body.subscribers, ['u1', 'u2']);
    const second = await call<{ topic: unknown; subscribers: string[]; nextCursor: string | null }>(persist, 'GET', `/api/topics/${topic.id}/subscribers?limit=2&cursor=${first.body.nextCursor}`, { user: 'bob' });
    assert.deepEqual(second.body, { topic: { ...topic, subscriberCount: 3 }, subscribers: ['u3'], muted: [], emailOptOut: [], nextCursor: null }, 'the topic comes with its subscribers counted now');
    const subscribed = await call<TopicPage>(persist, 'GET', '/api/topics?subscribed=true', { user: 'u2' });
    assert.deepEqual(subscribed.body.topics.map((t) => t.name), ['gamma']);
    assert.equal((await call(persist, 'DELETE', `/api/topics/${topic.id}/subscriptions`, { user: 'u2' })).status, 200);
    assert.equal((await call(persist, 'DELETE', `/api/topics/${topic.id}/subscriptions`, { user: 'u2' })).status, 404);
  });

  await t.test("one's own topics are listed each with its subscriber count", async () => {
    const alpha = created[0]!;
    for (const user of ['s1', 's2']) await call(persist, 'POST', `/api/topics/${alpha.id}/subscriptions`, { user });
    const counted = async (user: string) => {
      const answer = await call<{ topics: (Topic & { subscriberCount: number })[] }>(persist, 'GET', '/api/topics?mine=true', { user });
      assert.equal(answer.status, 200);
      return answer.body.topics.map((topic) => [topic.name, topic.subscriberCount]);
    };
    assert.deepEqual(await counted('ada'), [['delta', 0], ['beta', 0], ['alpha', 2]]);
    assert.deepEqual(await counted('bob'), [['epsilon', 0], ['gamma', 2]]);
    for (const user of ['s1', 's2']) await call(persist, 'DELETE', `/api/topics/${alpha.id}/subscriptions`, { user });
  });

  await t.test('only the creator deletes a topic; a deleted topic is gone from reads', async () => {
    const topic = created[0]!;
    const forbidden = await call<ErrorBody>(persist, 'DELETE', `/api/topics/${topic.id}`, { user: 'bob' });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, 'FORBIDDEN');
    assert.equal((await call(persist, 'GET', `/api/topics/${topic.id}`, { user: 'bob' })).status, 200, 'still there');
    assert.equal((await call(persist, 'DELETE', `/api/topics/${topic.id}`, { user: 'ada' })).status, 200);
    assert.equal((await call(persist, 'GET', `/api/topics/${topic.id}`, { user: 'ada' })).status, 404);
    assert.equal((await call(persist, 'DELETE', `/api/topics/${topic.id}`, { user: 'ada' })).status, 404);
    assert.equal((await call(persist, 'POST', `/api/topics/${topic.id}/subscriptions`, { user: 'cy' })).status, 404);
    const all = await call<TopicPage>(persist, 'GET', '/api/topics?limit=100', { user: 'cy' });
    assert.ok(!all.body.topics.some((t) => t.id === topic.id));
  });

  await t.test('bad input is refused with a clear error and writes nothing', async () => {
    const before = await rowCounts();
    const cases: [string, string, { body?: unknown; user?: string }, number][] = [
      ['POST', '/api/topics', { body: { name: 'no user' } }, 401],
      ['POST', '/api/topics', { user: 'ada', body: { name: '   ' } }, 400],
      ['POST', '/api/topics', { user: 'ada', body: { name: 42 } }, 400],
      ['POST', '/api/topics', { user: 'ada', body: { name: 'x', owner: 'me' } }, 400],
      ['POST', '/api/topics', { user: 'ada', body: { name: 'x'.repeat(101) } }, 400],
      ['POST', '/api/topics', { user: 'ada', body: `{"name":"padded"${' '.repeat(1_100_000)}}` }, 400],
      ['POST', '/api/topics', { user: 'ada', body: '{"name":' }, 400],
      ['POST', '/api/topics/not-a-uuid/subscriptions', { user: 'ada' }, 400],
      ['POST', '/api/topics/00000000-0000-4000-8000-000000000000/subscriptions', { user: 'ada' }, 404],
      ['GET', '/api/topics?limit=0', { user: 'ada' }, 400],
      ['GET', '/api/topics?limit=1000', { user: 'ada' }, 400],
      ['GET', '/api/topics?cursor=garbage', { user: 'ada' }, 400],
      ['GET', '/api/topics?mine=perhaps', { user: 'ada' }, 400],
      ['GET', '/api/topics', {}, 401],
      ['DELETE', '/api/topics/not-a-uuid', { user: 'ada' }, 400],
      ['GET', '/api/users/ada/notifications?limit=-1', { user: 'ada' }, 400],
      ['GET', '/api/users/ada/notifications?topicId=nope', { user: 'ada' }, 400],
      ['GET', '/api/users/ada/notifications', { user: 'bob' }, 403],
      ['GET', '/api/notifications/not-a-uuid/trace', { user: 'ada' }, 400],
      ['POST', '/api/notifications/00000000-0000-4000-8000-000000000000/events', { body: { type: 'exploded', recipientId: 'ada' } }, 400],
      ['POST', '/api/notifications/00000000-0000-4000-8000-000000000000/events', { body: { type: 'delivered', recipientId: 'ada' } }, 404],
      ['POST', '/api/prepare_2pc', { body: { txId: 'tx-bad', action: 'notification.create', payload: { topicId: 'x' }, timeoutMs: 1000 } }, 400],
      ['POST', '/api/prepare_2pc', { body: { txId: 'tx-bad-2', action: 'notification.ack', payload: { notificationId: 'nope', userId: 'ada' }, timeoutMs: 1000 } }, 400],
      ['POST', '/api/notifications', { body: { is_2pc_locked: true, title: 'missing most fields' } }, 400],
      ['POST', '/api/commit_2pc', { body: { txId: '' } }, 400],
      ['POST', '/api/commit_2pc', { body: {} }, 400],
      ['DELETE', '/api/rollback_2pc', { body: { txId: ['x'] } }, 400],
      ['GET', '/api/2pc/has%20space', {}, 400],
      ['DELETE', '/api/notifications/rollback_2pc', { body: { request_id: 7 } }, 400],
      ['DELETE', '/api/topics/not-a-uuid/subscriptions', { user: 'ada' }, 400],
      ['GET', '/api/topics/not-a-uuid/subscribers', { user: 'ada' }, 400],
    ];
    for (const [method, path, options, status] of cases) {
      const response = await call<ErrorBody>(persist, method, path, options);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(options).slice(0, 80)}`);
      assert.equal(typeof response.body.error.code, 'string');
    }
    assert.deepEqual(await rowCounts(), before);
  });
});
