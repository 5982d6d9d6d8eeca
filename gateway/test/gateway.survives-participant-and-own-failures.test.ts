// Failures around the gateway, with real processes: a participant voting no (or not in time) aborts the whole
// transaction with nothing visible; a SIGKILLed persist instance's breaker opens within a second
// while calls flow to the other; a gateway SIGKILLed between decision and phase 2 finishes the
// transaction after restart, nothing lost or doubled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { failure, jsonRpcClient, metric, register, socketIoClient, startSystem, withPg } from './helper.ts';


test('persist voting no aborts the publication: counter’s yes is rolled back, nothing stored, counted or pushed', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  const bob = await socketIoClient(gateway!, undefined, t);
  await register(alice, 'alice');
  const b = await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `no-vote-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  // The first publication caches the subscriber list in the gateway.
  await alice.call('notifications.publish', { topicId: topic.id, title: 'first', body: '', to: [b.id] });
  await bob.next('counter', (c) => c.unread === 1);
  // Bob leaves behind the gateway's back (straight at persist): the gateway's cached list is now stale.
  const left = await fetch(`${system.persist[0]!.url}/api/topics/${topic.id}/subscriptions`, { method: 'DELETE', headers: system.persist[0]!.headers(b.id) });
  assert.equal(left.status, 200);

  // Counter votes yes (+1 for bob), persist votes no (bob does not follow the topic): abort.
  const refused = await failure(alice.call('notifications.publish', { topicId: topic.id, title: 'never', body: '', to: [b.id] }));
  assert.equal(refused.error.code, 'INVALID_ARGUMENT', 'after the abort, a fresh read shows bob is no subscriber');
  assert.deepEqual(refused.error.details?.notSubscribed, [b.id]);
  // The refusal does not wait for the rollback's phase 2: give it a moment to be acknowledged.
  const readLog = () => withPg(system.gatewayDatabaseUrl, async (db) => (await db.query('SELECT state, reason, completed_at FROM coordinator_transactions ORDER BY created_at')).rows);
  let log = await readLog();
  for (let tries = 0; tries < 50 && !log[1]?.completed_at; tries += 1) {
    await sleep(100);
    log = await readLog();
  }
  assert.deepEqual(log.map((row) => row.state), ['committed', 'aborted']);
  assert.match(log[1].reason, /^persist: CONFLICT$/);
  assert.ok(log[1].completed_at, 'rollback acknowledged by both participants');
  const staged = await withPg(system.counterDatabaseUrl, async (db) => (await db.query('SELECT count(*)::int AS n FROM staged_changes')).rows[0].n as number);
  assert.equal(staged, 0, 'counter’s staged +1 was discarded');
  const stored = await withPg(system.persistDatabaseUrl, async (db) => (await db.query('SELECT title FROM notifications')).rows);
  assert.deepEqual(stored, [{ title: 'first' }]);
  assert.equal((await bob.call('counters.get')).unread, 1);
  await sleep(200);
  assert.deepEqual(bob.pushes.filter((p) => p.event === 'notification').map((p) => (p.data as { title: string }).title), ['first']);
});

test('a participant that cannot vote within the prepare deadline counts as a no: nothing stored, counted or pushed', async (t) => {
  const system = await startSystem(t, { gatewayEnv: { TWO_PC_PREPARE_TIMEOUT_MS: '1000' } });
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  const bob = await socketIoClient(gateway!, undefined, t);
  await register(alice, 'alice');
  await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `no-vote-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });

  // Hold counter's staging table: its prepare waits on the lock past the gateway's deadline.
  const locker = new pg.Client({ connectionString: system.counterDatabaseUrl });
  await locker.connect();
  t.after(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE staged_changes IN ACCESS EXCLUSIVE MODE');
  const refused = await failure(alice.call('notifications.publish', { topicId: topic.id, title: 'never', body: '' }));
  await locker.query('ROLLBACK');
  assert.equal(refused.error.code, 'TIMEOUT');
  assert.equal(refused.error.details?.participant, 'counter');
  assert.equal(refused.error.details?.aborted, true);

  // persist voted yes and was rolled back; counter's late prepare is rolled back too.
  let log: { state: string; reason: string; completed_at: Date | null }[] = [];
  for (let i = 0; i < 100 && !log[0]?.completed_at; i += 1) {
    log = await withPg(system.gatewayDatabaseUrl, async (db) => (await db.query('SELECT state, reason, completed_at FROM coordinator_transactions')).rows);
    await sleep(50);
  }
  assert.equal(log.length, 1);
  assert.equal(log[0]!.state, 'aborted');
  assert.match(log[0]!.reason, /^counter: TIMEOUT$/);
  assert.ok(log[0]!.completed_at, 'rollback acknowledged by both participants');
  const stored = await withPg(system.persistDatabaseUrl, async (db) => (await db.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n as number);
  assert.equal(stored, 0);
  assert.equal((await bob.call('counters.get')).unread, 0);
  assert.equal((await bob.call('notifications.list')).notifications.length, 0);
  assert.equal(bob.pushes.filter((p) => p.event === 'notification').length, 0);

  // The system is not wedged: the next publication commits.
  const next = await alice.call('notifications.publish', { topicId: topic.id, title: 'now', body: '' });
  await bob.next('notification', (n) => n.id === next.notification.id);
  assert.equal((await bob.call('counters.get')).unread, 1);
});

test('a SIGKILLed persist instance: its breaker opens within a second and calls flow to the other instance', async (t) => {
  const system = await startSystem(t, { persistInstances: 2 });
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  await register(alice, 'alice');
  await alice.call('topics.create', { name: `breaker-${Date.now()}` });
  // Both instances serve before the kill.
  for (let i = 0; i < 6; i += 1) await alice.call('topics.list', { mine: true });
  assert.equal(await metric(gateway!, 'circuit_breaker_state', { target: 'persist', instance: 'persist-1' }), 0);

  let calls = 0;
  let failed = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      try {
        const page = await alice.call('topics.list', { mine: true });
        assert.equal(page.topics.length, 1);
        calls += 1;
      } catch {
        failed += 1;
      }
      await sleep(10);
    }
  })();
  const killedAt = Date.now();
  await system.persist[0]!.stop('SIGKILL');
  let openedAfter: number | undefined;
  while (Date.now() - killedAt < 3_000) {
    if ((await metric(gateway!, 'circuit_breaker_state', { target: 'persist', instance: 'persist-1' })) === 2) {
      openedAfter = Date.now() - killedAt;
      break;
    }
    await sleep(20);
  }
  const callsAtOpen = calls;
  await sleep(500);
  running = false;
  await load;
  t.diagnostic(`breaker of persist-1 open ${openedAfter} ms after SIGKILL; ${calls} reads, ${failed} failed`);
  assert.ok(openedAfter !== undefined && openedAfter < 1_000, `breaker open after ${openedAfter} ms`);
  assert.equal(failed, 0, 'reads are retried on the other instance');
  assert.ok(calls > callsAtOpen, 'calls go on flowing to persist-2 once persist-1 is open');
  assert.ok((await metric(gateway!, 'upstream_requests_total', { target: 'persist', outcome: 'retried' }))! >= 1);
});

test('a gateway SIGKILLed between decision and phase 2: another gateway finishes the transaction once its lease passes, nothing lost or doubled', async (t) => {
  // The dead gateway never comes back: its open transaction is another's after TWO_PC_LEASE_MS.
  const system = await startSystem(t, { gatewayEnv: { FAULT_KILL_AFTER_DECISION: 'true', TWO_PC_LEASE_MS: '2000', TWO_PC_RECOVERY_INTERVAL_MS: '200' } });
  const [doomed] = system.gateways;
  const alice = await jsonRpcClient(doomed!, undefined, t);
  const bob = await jsonRpcClient(doomed!, undefined, t);
  const a = await register(alice, 'alice');
  const b = await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `crash-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });

  const publishing = alice.call('notifications.publish', { topicId: topic.id, title: 'in doubt', body: '' });
  const exit = await doomed!.exited;
  assert.equal(exit.signal, 'SIGKILL');
  await assert.rejects(Promise.race([publishing, sleep(2_000).then(() => Promise.reject(new Error('no answer')))]));
  const [row] = await withPg(system.gatewayDatabaseUrl, async (db) => (await db.query('SELECT state, completed_at FROM coordinator_transactions')).rows);
  assert.equal(row.state, 'committed', 'the decision was durable before the kill');
  assert.equal(row.completed_at, null, 'phase 2 had not run');
  // Prepared but not committed: invisible to the subscriber meanwhile.
  const hidden = await withPg(system.persistDatabaseUrl, async (db) => (await db.query("SELECT state FROM notifications")).rows);
  assert.deepEqual(hidden, [{ state: 'pending' }]);

  const restarted = await system.startGateway({ FAULT_KILL_AFTER_DECISION: 'false', INSTANCE_ID: 'gateway-2' });
  const bobAgain = await socketIoClient(restarted, b.token, t);
  const readLog = async () => (await withPg(system.gatewayDatabaseUrl, async (db) => (await db.query('SELECT state, completed_at, owner FROM coordinator_transactions')).rows))[0];
  const deadline = Date.now() + 30_000;
  while (!(await readLog()).completed_at) {
    assert.ok(Date.now() < deadline, 'the other gateway finished the transaction within 30 s');
    await sleep(100);
  }
  const finished = await readLog();
  assert.equal(finished.state, 'committed');
  assert.equal(finished.owner, 'gateway-2', 'taken over by the live gateway');
  assert.equal((await bobAgain.call('counters.get')).unread, 1);
  const feed = await bobAgain.call('notifications.list');
  assert.deepEqual(feed.notifications.map((n) => n.title), ['in doubt']);

  // Nothing doubled: one more publication makes exactly two.
  const aliceAgain = await jsonRpcClient(restarted, a.token, t);
  await aliceAgain.call('notifications.publish', { topicId: topic.id, title: 'after', body: '' });
  assert.equal((await bobAgain.call('counters.get')).unread, 2);
  assert.equal((await bobAgain.call('notifications.list')).notifications.length, 2);
  assert.equal((await failure(bobAgain.call('notifications.ack', { notificationId: '00000000-0000-4000-8000-000000000000' }))).error.code, 'NOT_FOUND');
});
