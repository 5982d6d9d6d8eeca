// persist killed with SIGKILL after prepare: the transaction is still prepared after restart, and
// the sweeper resolves it with the coordinator (committed → visible; no record → aborted, gone).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pg from 'pg';
import { startFakeCoordinator } from '@notify/lib/testing';
import { call, startCluster } from './helper.ts';

test('a prepared notification survives SIGKILL and is resolved with the coordinator', async (t) => {
  const cluster = await startCluster(t, { counter: false });
  const topic = await call<{ id: string }>(cluster.persist, 'POST', '/api/topics', { user: 'ada', body: { name: 'recovery' } });
  assert.equal((await call(cluster.persist, 'POST', `/api/topics/${topic.body.id}/subscriptions`, { user: 'bob' })).status, 201);
  const prepare = (txId: string, notificationId: string) =>
    call<{ vote: string }>(cluster.persist, 'POST', '/api/prepare_2pc', {
      body: { txId, action: 'notification.create', payload: { notificationId, topicId: topic.body.id, publisherId: 'ada', title: txId, body: '', recipients: ['bob'] }, timeoutMs: 300 },
    });
  const kept = randomUUID();
  const forgotten = randomUUID();
  assert.equal((await prepare('tx-kept', kept)).body.vote, 'yes');
  assert.equal((await prepare('tx-forgotten', forgotten)).body.vote, 'yes');

  await cluster.persist.stop('SIGKILL');
  const persist = await cluster.restartPersist();
  const state = async (txId: string) => (await call<{ state: string }>(persist, 'GET', `/api/2pc/${txId}`)).body.state;
  assert.deepEqual([await state('tx-kept'), await state('tx-forgotten')], ['prepared', 'prepared']);

  const coordinator = await startFakeCoordinator(t, cluster.discovery.url);
  coordinator.decide('tx-kept', 'committed');
  const deadline = Date.now() + 5_000;
  while ((await state('tx-kept')) !== 'committed' || (await state('tx-forgotten')) !== 'aborted') {
    assert.ok(Date.now() < deadline, 'resolved within 5 s');
    await sleep(50);
  }
  const feed = await call<{ notifications: { id: string }[] }>(persist, 'GET', '/api/users/bob/notifications', { user: 'bob' });
  assert.deepEqual(feed.body.notifications.map((n) => n.id), [kept], 'the committed one is visible');
  const db = new pg.Client({ connectionString: cluster.persistDatabaseUrl });
  await db.connect();
  t.after(() => db.end());
  const rows = await db.query('SELECT id::text, state FROM notifications ORDER BY id');
  assert.deepEqual(rows.rows, [{ id: kept, state: 'committed' }], 'the aborted one is gone from the database, deliveries and all');
  assert.equal((await db.query('SELECT count(*)::int AS n FROM deliveries WHERE notification_id = $1', [forgotten])).rows[0].n, 0);
});
