// A gateway SIGKILLed in the middle of a group-committed batch (a real process, a real SIGKILL):
// after its decision and before phase 2, or after the prepares and before any decision. Another
// gateway takes the batch over once its lease passes; every item ends committed or aborted on both
// participants, none twice, and the subscriber's count equals the publications it can read.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonRpcClient, register, startSystem, withPg, type System } from './helper.ts';

const CALLS = 12;

interface LogRow {
  tx_id: string;
  state: string;
  completed_at: Date | null;
  branches: { service: string; action: string; payload: { notificationId: string } }[];
}

const readLog = (system: System) => withPg(system.gatewayDatabaseUrl, async (db) => (await db.query<LogRow>('SELECT tx_id, state, completed_at, branches FROM coordinator_transactions')).rows);

async function prepared(url: string): Promise<number> {
  return withPg(url, async (db) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM two_phase_transactions WHERE state = 'prepared'`)).rows[0]!.n);
}

/** Publishes CALLS at once (one of them by a non-creator) on a gateway set to die mid-batch; returns the log as the kill left it. */
async function killMidBatch(t: TestContext, fault: 'FAULT_KILL_AFTER_DECISION' | 'FAULT_KILL_MID_PREPARE') {
  // One batch in flight at a time: the first publication goes alone, the others wait and leave together.
  const system = await startSystem(t, {
    gatewayEnv: { [fault]: 'true', FAULT_KILL_BATCH_MIN: '3', TWO_PC_BATCHES_IN_FLIGHT: '1', TWO_PC_LEASE_MS: '2000', TWO_PC_RECOVERY_INTERVAL_MS: '200' },
  });
  const [doomed] = system.gateways;
  const alice = await jsonRpcClient(doomed!, undefined, t);
  const bob = await jsonRpcClient(doomed!, undefined, t);
  const mallory = await jsonRpcClient(doomed!, undefined, t);
  await register(alice, 'alice');
  const b = await register(bob, 'bob');
  await register(mallory, 'mallory');
  const topic = await alice.call('topics.create', { name: `batch-crash-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });

  // Calls in flight on the dead gateway get no answer; nothing waits for them.
  for (let i = 0; i < CALLS; i += 1) void (i === CALLS / 2 ? mallory : alice).call('notifications.publish', { topicId: topic.id, title: `n${i}`, body: '' }).catch(() => undefined);
  const exit = await Promise.race([doomed!.exited, sleep(60_000).then(() => undefined)]);
  if (!exit) {
    const batches = (await readLog(system)).length;
    assert.fail(`no SIGKILL within 60 s (${batches} transactions logged); gateway said: ${JSON.stringify(doomed!.logs.filter((l) => (l.level as number) >= 40).slice(-5))}`);
  }
  assert.equal(exit.signal, 'SIGKILL');
  const atKill = await readLog(system);

  // Another gateway finishes what the dead one left once its lease passes.
  const restarted = await system.startGateway({ [fault]: 'false', INSTANCE_ID: 'gateway-2' });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const open = (await readLog(system)).filter((row) => !row.completed_at).length;
    const held = (await prepared(system.persistDatabaseUrl)) + (await prepared(system.counterDatabaseUrl));
    if (open === 0 && held === 0) break;
    assert.ok(Date.now() < deadline, `finished within 60 s (${open} open in the log, ${held} prepared on the participants)`);
    await sleep(100);
  }
  const finished = await readLog(system);
  const committed = finished.filter((row) => row.state === 'committed').map((row) => row.branches[0]!.payload.notificationId);

  // The subscriber sees exactly the committed publications, once each, and counts exactly them.
  const bobAgain = await jsonRpcClient(restarted, b.token, t);
  assert.equal((await bobAgain.call('counters.get')).unread, committed.length, 'the count is the committed publications');
  const feed = (await bobAgain.call('notifications.list', { limit: 100 })).notifications.map((n) => n.id);
  assert.deepEqual([...feed].sort(), [...committed].sort(), 'the feed holds the committed publications, each once');
  const stored = await withPg(system.persistDatabaseUrl, async (db) => (await db.query<{ id: string; state: string }>('SELECT id::text, state FROM notifications')).rows);
  assert.deepEqual(stored.map((row) => row.id).sort(), [...committed].sort(), 'nothing of an aborted publication is stored');
  assert.ok(stored.every((row) => row.state === 'committed'));
  return { atKill, finished };
}

test('a gateway SIGKILLed after a batch’s decision: the batch is finished by another gateway, every item as decided, none twice', { timeout: 300_000 }, async (t) => {
  const { atKill, finished } = await killMidBatch(t, 'FAULT_KILL_AFTER_DECISION');
  const batch = atKill.filter((row) => !row.completed_at);
  assert.ok(batch.length >= 3, `a batch of at least 3 was open at the kill (${batch.length})`);
  assert.ok(batch.every((row) => row.state !== 'pending'), 'its decisions were durable before the kill');
  assert.ok(batch.some((row) => row.state === 'committed'));
  for (const row of batch) assert.equal(finished.find((f) => f.tx_id === row.tx_id)?.state, row.state, 'finished as decided');
});

test('a gateway SIGKILLed mid-prepare of a batch: every item of it is aborted on both participants (presumed abort)', { timeout: 300_000 }, async (t) => {
  const { atKill, finished } = await killMidBatch(t, 'FAULT_KILL_MID_PREPARE');
  const batch = atKill.filter((row) => row.state === 'pending');
  assert.ok(batch.length >= 3, `a batch of at least 3 was undecided at the kill (${batch.length})`);
  for (const row of batch) assert.equal(finished.find((f) => f.tx_id === row.tx_id)?.state, 'aborted');
  assert.ok(finished.filter((row) => row.state === 'committed').length <= CALLS - batch.length);
});
