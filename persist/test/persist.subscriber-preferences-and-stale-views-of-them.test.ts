// Subscriber preferences in persist: a subscription's `muted` and `email`, a user's email switch and
// digest, the subscriber list that names who muted and who opted out, and notification.create's
// check of the publisher's view of them: a muted or opted-out set that is not the current one votes
// no (SUBSCRIBERS_CHANGED) and stores nothing; an exact one stores the muted deliveries read.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { call, startCluster } from './helper.ts';

type Vote = { vote: 'yes' | 'no'; error?: { code: string; details: Record<string, unknown> } };
type Audience = { subscribers: string[]; muted: string[]; emailOptOut: string[] };

test('preferences are stored, listed with the audience, and a publication must name them as they are', async (t) => {
  const { persist, persistDatabaseUrl } = await startCluster(t, { counter: false });
  const db = new pg.Client({ connectionString: persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());

  const topicId = (await call<{ id: string }>(persist, 'POST', '/api/topics', { user: 'ada', body: { name: 'prefs' } })).body.id;
  for (const user of ['bob', 'cy', 'dan']) assert.equal((await call(persist, 'POST', `/api/topics/${topicId}/subscriptions`, { user })).status, 201);
  const audience = async () => (await call<Audience>(persist, 'GET', `/api/topics/${topicId}/subscribers?limit=10000`, { user: 'ada' })).body;
  const prepare = (notificationId: string, payload: Record<string, unknown>) =>
    call<Vote>(persist, 'POST', '/api/prepare_2pc', {
      body: { txId: `tx-${notificationId}`, action: 'notification.create', payload: { notificationId, topicId, publisherId: 'ada', title: 't', body: 'b', recipients: ['bob', 'cy', 'dan'], audience: 'subscribers', ...payload }, timeoutMs: 60_000 },
    });

  await t.test('a subscription’s preferences: set, answered, 404 when not subscribed, 400 for bad input', async () => {
    const muted = await call<Record<string, unknown>>(persist, 'PATCH', `/api/topics/${topicId}/subscriptions`, { user: 'bob', body: { muted: true } });
    assert.equal(muted.status, 200);
    assert.deepEqual({ muted: muted.body.muted, email: muted.body.email, userId: muted.body.userId }, { muted: true, email: true, userId: 'bob' });
    assert.equal((await call(persist, 'PATCH', `/api/topics/${topicId}/subscriptions`, { user: 'cy', body: { email: false } })).status, 200);
    assert.equal((await call(persist, 'PATCH', `/api/topics/${topicId}/subscriptions`, { user: 'eve', body: { muted: true } })).status, 404);
    assert.equal((await call(persist, 'PATCH', `/api/topics/${topicId}/subscriptions`, { user: 'bob', body: { muted: 'yes' } })).status, 400);
    const listed = await call<{ topics: { id: string; subscription: unknown }[] }>(persist, 'GET', '/api/topics?subscribed=true', { user: 'bob' });
    assert.deepEqual(listed.body.topics.find((topic) => topic.id === topicId)?.subscription, { muted: true, email: true });
  });

  await t.test('a user’s preferences: defaults, set (digest on and off), 400 for bad input; the mailer reads them', async () => {
    assert.deepEqual((await call(persist, 'GET', '/api/preferences', { user: 'dan' })).body, { email: true, digest: null });
    assert.deepEqual((await call(persist, 'PUT', '/api/preferences', { user: 'dan', body: { digest: { threshold: 3, windowMinutes: 10 } } })).body, { email: true, digest: { threshold: 3, windowMinutes: 10 } });
    assert.deepEqual((await call(persist, 'PUT', '/api/preferences', { user: 'dan', body: { email: false } })).body, { email: false, digest: { threshold: 3, windowMinutes: 10 } });
    assert.deepEqual((await call(persist, 'PUT', '/api/preferences', { user: 'dan', body: { digest: null } })).body, { email: false, digest: null });
    for (const body of [{ digest: { threshold: 0, windowMinutes: 10 } }, { digest: { threshold: 3 } }, { email: 'no' }, { other: true }]) {
      assert.equal((await call(persist, 'PUT', '/api/preferences', { user: 'dan', body })).status, 400, JSON.stringify(body));
    }
    const forMailer = await call(persist, 'GET', `/api/users/cy/email-preferences?topicId=${topicId}`, { as: 'mailer' });
    assert.deepEqual(forMailer.body, { email: true, digest: null, subscription: { muted: false, email: false } });
    assert.equal((await call(persist, 'GET', `/api/users/cy/email-preferences`, { user: 'cy' })).status, 403, 'the gateway may not read them this way');
  });

  await t.test('the audience names who muted and who opted out (this topic or all)', async () => {
    const { subscribers, muted, emailOptOut } = await audience();
    assert.deepEqual({ subscribers, muted, emailOptOut }, { subscribers: ['bob', 'cy', 'dan'], muted: ['bob'], emailOptOut: ['cy', 'dan'] });
  });

  await t.test('a publication naming stale preferences votes no; the current ones vote yes and store the muted delivery read', async () => {
    for (const stale of [{ muted: [] }, { muted: ['bob', 'cy'] }, { muted: ['bob'], email: true, emailOptOut: ['cy'] }, { muted: ['bob'], email: true, emailOptOut: [] }]) {
      const notificationId = randomUUID();
      const vote = await prepare(notificationId, stale);
      assert.equal(vote.status, 409, JSON.stringify(stale));
      assert.equal(vote.body.error?.details.reason, 'SUBSCRIBERS_CHANGED');
      assert.equal((await db.query('SELECT count(*)::int AS n FROM deliveries WHERE notification_id = $1', [notificationId])).rows[0].n, 0);
    }
    const notificationId = randomUUID();
    const vote = await prepare(notificationId, { muted: ['bob'], email: true, emailOptOut: ['dan', 'cy'] });
    assert.equal(vote.status, 200, JSON.stringify(vote.body));
    assert.equal((await call(persist, 'POST', '/api/commit_2pc', { body: { txId: `tx-${notificationId}` } })).status, 200);
    const rows = (await db.query('SELECT recipient_id, ack_state, muted, acked_at IS NOT NULL AS stamped FROM deliveries WHERE notification_id = $1 ORDER BY recipient_id', [notificationId])).rows;
    assert.deepEqual(rows, [
      { recipient_id: 'bob', ack_state: 'acked', muted: true, stamped: true },
      { recipient_id: 'cy', ack_state: 'none', muted: false, stamped: false },
      { recipient_id: 'dan', ack_state: 'none', muted: false, stamped: false },
    ]);
    const [item] = (await call<{ notifications: { id: string; read: boolean; muted: boolean }[] }>(persist, 'GET', '/api/users/bob/notifications', { user: 'bob' })).body.notifications;
    assert.deepEqual({ id: item?.id, read: item?.read, muted: item?.muted }, { id: notificationId, read: true, muted: true });
    // Already read: an acknowledgement has nothing to do.
    const ack = await call<Vote>(persist, 'POST', '/api/prepare_2pc', { body: { txId: `ack-${notificationId}`, action: 'notification.ack', payload: { notificationId, userId: 'bob' }, timeoutMs: 60_000 } });
    assert.equal(ack.body.error?.code, 'CONFLICT');
  });
});
