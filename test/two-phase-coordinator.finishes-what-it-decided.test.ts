// The kit's coordinator driving real persist and counter processes through discovery: commits
// and aborts across both, answers participants' questions, and after a crash between decision
// and phase 2 finishes the transaction with nothing lost or doubled.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { UpstreamClient } from '../lib/src/balancing/upstream-client.ts';
import { createService } from '../lib/src/service/create-service.ts';
import { serviceHeaders, spawnService, testDatabase, type ServiceProcess } from '../lib/src/testing/index.ts';
import { counterActions, persistActions } from '../lib/src/contracts/index.ts';
import { Coordinator, COORDINATOR_TABLE_DDL, COORDINATOR_LEASE_DDL, COORDINATOR_NAME_DDL, type CoordinatorOptions } from '../lib/src/two-phase/coordinator.ts';
import { defineTransaction, type TransactionDefinition, type TransactionPayloads } from '../lib/src/two-phase/transaction.ts';
import { coordinatorRoutes } from '../lib/src/two-phase/coordinator-routes.ts';
import { testConfig } from '../lib/test/helper.ts';

async function json<T>(node: ServiceProcess, method: string, path: string, user?: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...node.headers(user), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const PUBLICATION = [persistActions.notificationCreate, counterActions.notificationCreate] as const;
type Publication = TransactionPayloads<typeof PUBLICATION>;

/** A coordinator with the one transaction these tests run. */
class TestCoordinator extends Coordinator {
  constructor(
    private readonly definition: TransactionDefinition<typeof PUBLICATION>,
    options: CoordinatorOptions,
  ) {
    super(options);
  }

  publish(payloads: Publication) {
    return this.run(this.definition, payloads);
  }
}

/** discovery, persist and counter as processes; the coordinator in this process, registered as "gateway". */
async function setup(t: TestContext) {
  const [persistDb, counterDb, coordinatorDb] = await Promise.all([testDatabase(`${t.name}-p`), testDatabase(`${t.name}-c`), testDatabase(`${t.name}-g`)]);
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const common = { DISCOVERY_URL: discovery.url, TWO_PC_SWEEP_INTERVAL_MS: '100' };
  const [persist, counter] = await Promise.all([
    spawnService({ entry: 'persist/src/server.ts', env: { ...common, DATABASE_URL: persistDb.url } }, t),
    spawnService({ entry: 'counter/src/server.ts', env: { ...common, DATABASE_URL: counterDb.url } }, t),
  ]);
  const db = new pg.Client({ connectionString: coordinatorDb.url });
  await db.connect();
  t.after(() => db.end());
  await db.query(COORDINATOR_TABLE_DDL);
  await db.query(COORDINATOR_LEASE_DDL);
  await db.query(COORDINATOR_NAME_DDL);
  const sql = {
    $queryRawUnsafe: async <T>(query: string, ...values: unknown[]) => (await db.query(query, values)).rows as T,
    $executeRawUnsafe: async (query: string, ...values: unknown[]) => (await db.query(query, values)).rowCount ?? 0,
  };
  const gateway = createService({ name: 'gateway', config: testConfig({ DISCOVERY_URL: discovery.url, DISCOVERY_REGISTER: 'true', DRAIN_DELAY_MS: '0', LOG_LEVEL: 'silent' }) });
  t.after(() => gateway.close());
  const clients = new Map<string, UpstreamClient>();
  const participant = (service: string) => {
    let client = clients.get(service);
    if (!client) {
      client = new UpstreamClient(gateway.upstream(service), { identity: gateway.identity, metrics: gateway.metrics, log: gateway.log });
      clients.set(service, client);
    }
    return client;
  };
  const coordinator = (afterDecision?: (txId: string) => void, more: Partial<CoordinatorOptions> & { followUp?: (txId: string) => Promise<void> } = {}) => {
    const { followUp, ...options } = more;
    const definition = defineTransaction('test.publication', {
      branches: PUBLICATION,
      ...(followUp ? { followUp: (_payloads: Publication, txId: string) => followUp(txId) } : {}),
    });
    return new TestCoordinator(definition, { db: sql, owner: () => gateway.instanceId, participant, log: gateway.log, metrics: gateway.metrics, // 60 s: participants' own sweepers stay out of the way, so only the coordinator finishes transactions here.
      prepareTimeoutMs: 60_000, decisionTimeoutMs: 1_000, retryMaxMs: 200, afterDecision, transactions: [definition], ...options });
  };
  let current = coordinator();
  void gateway.app.register(async (app) => coordinatorRoutes(app, { coordinator: current, participants: ['persist', 'counter'] }));
  await gateway.listen();
  for (const name of ['persist', 'counter']) await gateway.upstream(name).watcher.until((list) => list.length === 1);
  t.after(() => current.stop());

  const topic = await json<{ id: string }>(persist, 'POST', '/api/topics', 'ada', { name: `t-${randomUUID()}` });
  for (const user of ['bob', 'cy']) await json(persist, 'POST', `/api/topics/${topic.body.id}/subscriptions`, user);
  const publication = (publisherId = 'ada'): Publication => {
    const notificationId = randomUUID();
    return {
      persist: { notificationId, topicId: topic.body.id, publisherId, title: 'hi', body: 'b', recipients: ['bob', 'cy'] },
      counter: { notificationId, recipients: ['bob', 'cy'] },
    };
  };
  /** Waits until the coordinator's log marks the transaction complete (after phase 2 and its follow-up). */
  const completion = async (txId: string) => {
    for (let tries = 0; tries < 500; tries += 1) {
      const [row] = await sql.$queryRawUnsafe<{ completed_at: Date | null }[]>('SELECT completed_at FROM coordinator_transactions WHERE tx_id = $1', txId);
      if (row?.completed_at) return;
      await sleep(20);
    }
    assert.fail(`transaction ${txId} was not marked complete within 10 s`);
  };
  const unread = async (user: string) => (await json<{ unread: number }>(counter, 'GET', `/api/counters/${user}`)).body.unread;
  const feed = async (user: string) => (await json<{ notifications: unknown[] }>(persist, 'GET', `/api/users/${user}/notifications`, user)).body.notifications.length;
  return {
    gateway,
    sql,
    completion,
    persist,
    counter,
    publication,
    unread,
    feed,
    coordinator: () => current,
    restartCoordinator(afterDecision?: (txId: string) => void, more: Parameters<typeof coordinator>[1] = {}) {
      current = coordinator(afterDecision, more);
      return current;
    },
  };
}

test('the coordinator commits across persist and counter, aborts on a no vote, and answers participants', async (t) => {
  const s = await setup(t);
  const committed = await s.coordinator().publish(s.publication());
  assert.equal(committed.committed, true);
  await committed.done;
  assert.deepEqual([await s.feed('bob'), await s.unread('bob'), await s.unread('cy')], [1, 1, 1]);

  const refused = await s.coordinator().publish(s.publication('mallory'));
  assert.equal(refused.committed, false);
  assert.equal(refused.votes.find((vote) => vote.service === 'persist')?.error?.code, 'FORBIDDEN');
  await refused.done;
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [1, 1], 'nothing of the aborted one is visible');

  const address = s.gateway.app.server.address() as { port: number };
  const ask = async (txId: string, as = 'persist') =>
    (await fetch(`http://127.0.0.1:${address.port}/api/2pc/${txId}`, { headers: serviceHeaders(as, 'gateway') })).json() as Promise<{ state?: string; error?: { code: string; details: { txId: string } } }>;
  assert.equal((await ask(committed.txId)).state, 'committed');
  assert.equal((await ask(committed.txId, 'counter')).state, 'committed');
  // Only the participants may ask what became of a transaction.
  assert.equal((await ask(committed.txId, 'mailer')).error?.code, 'FORBIDDEN');
  const unsigned = await fetch(`http://127.0.0.1:${address.port}/api/2pc/${committed.txId}`);
  assert.equal(unsigned.status, 401);
  assert.equal((await ask(refused.txId)).state, 'aborted');
  assert.equal((await ask('never-seen')).error?.details.txId, 'never-seen', 'no record names the transaction');
});

test('a coordinator that dies between decision and phase 2 finishes after restart, nothing lost or doubled', async (t) => {
  const s = await setup(t);
  const crashing = s.restartCoordinator(() => {
    throw new Error('crash after the decision was written');
  });
  await assert.rejects(crashing.publish(s.publication()), /crash after the decision/);
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [0, 0], 'prepared only: invisible');
  const [logged] = await s.sql.$queryRawUnsafe<{ tx_id: string; name: string }[]>('SELECT tx_id, name FROM coordinator_transactions');
  assert.equal(logged?.name, 'test.publication', 'the log names the transaction’s definition');

  // The restarted coordinator finds the definition by that name, so what follows the commit runs too.
  const followed: string[] = [];
  const restarted = s.restartCoordinator(undefined, { followUp: async (txId) => void followed.push(txId) });
  assert.equal(await restarted.recover(), 1);
  const deadline = Date.now() + 5_000;
  while ((await s.unread('cy')) !== 1 || (await s.feed('cy')) !== 1 || followed.length === 0) {
    assert.ok(Date.now() < deadline, 'finished within 5 s');
    await sleep(50);
  }
  assert.deepEqual(followed, [logged.tx_id]);
  await sleep(500); // a participant's own sweeper may also have asked and committed: still once
  assert.deepEqual([await s.feed('bob'), await s.unread('bob'), await s.feed('cy'), await s.unread('cy')], [1, 1, 1, 1]);
});

test('a transaction the coordinator never decided is aborted at restart, on every participant', async (t) => {
  const s = await setup(t);
  const payloads = s.publication();
  const branches = [
    { service: 'persist', action: 'notification.create', payload: payloads.persist },
    { service: 'counter', action: 'notification.create', payload: payloads.counter },
  ];
  const txId = `tx-${randomUUID()}`;
  // As if the coordinator died after recording the transaction and sending the prepares (a row from before names were kept).
  await s.sql.$executeRawUnsafe(`INSERT INTO coordinator_transactions (tx_id, state, branches) VALUES ($1, 'pending', $2::jsonb)`, txId, JSON.stringify(branches));
  for (const [node, branch] of [[s.persist, branches[0]!], [s.counter, branches[1]!]] as const) {
    const vote = await json<{ vote: string }>(node, 'POST', '/api/prepare_2pc', undefined, { txId, action: branch.action, payload: branch.payload, timeoutMs: 60_000 });
    assert.equal(vote.body.vote, 'yes');
  }
  assert.equal(await s.restartCoordinator().recover(), 1);
  const deadline = Date.now() + 5_000;
  for (const node of [s.persist, s.counter]) {
    while ((await json<{ state: string }>(node, 'GET', `/api/2pc/${txId}`)).body.state !== 'aborted') {
      assert.ok(Date.now() < deadline, 'rolled back within 5 s');
      await sleep(50);
    }
  }
  assert.equal(await s.coordinator().state(txId), 'aborted');
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [0, 0]);
});

test('a follow-up is retried until it succeeds, the transaction completes only then, and a stop leaves it for recover()', async (t) => {
  const s = await setup(t);
  const completedAt = async (txId: string) =>
    (await s.sql.$queryRawUnsafe<{ completed_at: Date | null }[]>('SELECT completed_at FROM coordinator_transactions WHERE tx_id = $1', txId))[0]?.completed_at ?? null;

  // A follow-up that fails twice: `done` does not wait for it; completion does.
  const calls: string[] = [];
  const failing = s.restartCoordinator(undefined, {
    followUp: async (txId) => {
      calls.push(txId);
      if (calls.length <= 2) throw new Error('mailer down');
    },
  });
  const tx = await failing.publish(s.publication());
  assert.equal(await tx.done, true);
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [1, 1], 'phase 2 is visible when done resolves');
  for (let tries = 0; tries < 100 && !(await completedAt(tx.txId)); tries += 1) await sleep(20);
  assert.ok(await completedAt(tx.txId), 'complete once the follow-up succeeded');
  assert.deepEqual(calls, [tx.txId, tx.txId, tx.txId]);

  // A follow-up that never succeeds before the coordinator stops: left open, finished by recover().
  const stuck = s.restartCoordinator(undefined, { followUp: async () => Promise.reject(new Error('mailer down')) });
  const open = await stuck.publish(s.publication());
  assert.equal(await open.done, true);
  await sleep(100);
  await stuck.stop();
  assert.equal(await completedAt(open.txId), null, 'not complete while the follow-up failed');
  const followed: string[] = [];
  const restarted = s.restartCoordinator(undefined, { followUp: async (txId) => void followed.push(txId) });
  assert.equal(await restarted.recover(), 1);
  for (let tries = 0; tries < 100 && !(await completedAt(open.txId)); tries += 1) await sleep(20);
  assert.deepEqual(followed, [open.txId], 'recovery ran the follow-up again');
  assert.ok(await completedAt(open.txId));
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [2, 2], 'and phase 2 again changed nothing twice');
});

/** Each participant's state of a transaction (`GET /api/2pc/:txId`), persist's then counter's. */
async function statesOf(s: Awaited<ReturnType<typeof setup>>, txId: string): Promise<string[]> {
  return Promise.all([s.persist, s.counter].map(async (node) => (await json<{ state?: string }>(node, 'GET', `/api/2pc/${txId}`)).body.state ?? 'none'));
}

/**
 * One batch for sure: the first transaction goes alone (the coordinator was idle) and, one batch
 * in flight at most, every other waits for it and they leave together.
 */
async function inOneBatch(coordinator: TestCoordinator, first: Publication, rest: Publication[]) {
  const alone = coordinator.publish(first);
  const together = rest.map((payloads) => coordinator.publish(payloads));
  return { alone, together };
}

test('group commit: a batch in which persist refuses one item commits all the others and aborts that one on both participants', async (t) => {
  const s = await setup(t);
  const batches: string[][] = [];
  const coordinator = s.restartCoordinator(undefined, { batchesInFlight: 1, afterPrepare: (txIds) => void batches.push(txIds) });
  const valid = Array.from({ length: 8 }, () => s.publication());
  const forged = s.publication('mallory');
  const { alone, together } = await inOneBatch(coordinator, s.publication(), [...valid.slice(0, 4), forged, ...valid.slice(4)]);
  const first = await alone;
  const results = await Promise.all(together);
  assert.deepEqual(batches.map((batch) => batch.length), [1, 9], 'one transaction alone, then one batch of nine');
  const refused = results[4]!;
  assert.equal(refused.committed, false);
  assert.equal(refused.votes.find((vote) => vote.service === 'persist')?.error?.code, 'FORBIDDEN');
  assert.equal(results.filter((result) => result.committed).length, 8, 'the eight valid ones commit');
  await Promise.all([first, ...results].map((result) => result.done));
  assert.deepEqual(await statesOf(s, refused.txId), ['aborted', 'aborted'], 'the refused one is aborted on both participants');
  for (const result of results.filter((r) => r.committed)) assert.deepEqual(await statesOf(s, result.txId), ['committed', 'committed']);
  assert.equal(await s.coordinator().state(refused.txId), 'aborted');
  assert.deepEqual([await s.feed('bob'), await s.unread('bob'), await s.feed('cy'), await s.unread('cy')], [9, 9, 9, 9], 'the first and the eight valid ones, once each');
});

test('group commit: a coordinator that dies after a batch’s decision finishes every item after restart, none twice', async (t) => {
  const s = await setup(t);
  let decisions = 0;
  // The lone first transaction passes; the batch after it "crashes" right after its decision.
  const crashing = s.restartCoordinator(() => {
    if ((decisions += 1) > 1) throw new Error('crash after the batch’s decision was written');
  }, { batchesInFlight: 1 });
  const first = crashing.publish(s.publication());
  // Each refusal is awaited from the start: the batch may fail before the first's completion is seen.
  const batch = [s.publication(), s.publication('mallory'), s.publication(), s.publication()].map((payloads) => assert.rejects(crashing.publish(payloads), /crash after the batch/));
  const { txId: firstTx } = await first;
  await s.completion(firstTx);
  await Promise.all(batch);
  const logged = await s.sql.$queryRawUnsafe<{ tx_id: string; state: string }[]>(`SELECT tx_id, state FROM coordinator_transactions WHERE tx_id <> $1 ORDER BY state`, firstTx);
  assert.deepEqual(logged.map((row) => row.state), ['aborted', 'committed', 'committed', 'committed'], 'the batch’s decisions were durable, per item');
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [1, 1], 'the batch is prepared only: invisible');

  const restarted = s.restartCoordinator();
  assert.equal(await restarted.recover(), 4);
  const deadline = Date.now() + 10_000;
  const finished = async () => (await Promise.all(logged.map(async (row) => (await statesOf(s, row.tx_id)).every((state) => state === row.state)))).every(Boolean);
  while (!(await finished())) {
    assert.ok(Date.now() < deadline, 'every item reached its decision on both participants within 10 s');
    await sleep(50);
  }
  await sleep(500); // a participant's own sweeper may also have asked and committed: still once
  assert.deepEqual([await s.feed('bob'), await s.unread('bob'), await s.feed('cy'), await s.unread('cy')], [4, 4, 4, 4], 'the first and the three valid ones, once each');
});

test('group commit: a coordinator that dies mid-prepare of a batch leaves nothing after restart (presumed abort on both participants)', async (t) => {
  const s = await setup(t);
  const crashing = s.restartCoordinator(undefined, {
    batchesInFlight: 1,
    afterPrepare: (txIds) => {
      if (txIds.length > 1) throw new Error('crash mid-prepare');
    },
  });
  const first = crashing.publish(s.publication());
  // Each refusal is awaited from the start: the batch may fail before the first's completion is seen.
  const batch = Array.from({ length: 5 }, () => assert.rejects(crashing.publish(s.publication()), /crash mid-prepare/));
  // Marked complete, so recovery below finds only the batch.
  await s.completion((await first).txId);
  await Promise.all(batch);
  const pending = await s.sql.$queryRawUnsafe<{ tx_id: string }[]>(`SELECT tx_id FROM coordinator_transactions WHERE state = 'pending'`);
  assert.equal(pending.length, 5, 'logged, prepared, never decided');
  for (const { tx_id } of pending) assert.deepEqual(await statesOf(s, tx_id), ['prepared', 'prepared']);

  assert.equal(await s.restartCoordinator().recover(), 5);
  const deadline = Date.now() + 10_000;
  for (const { tx_id } of pending) {
    while ((await statesOf(s, tx_id)).some((state) => state !== 'aborted')) {
      assert.ok(Date.now() < deadline, 'rolled back on both within 10 s');
      await sleep(50);
    }
    assert.equal(await s.coordinator().state(tx_id), 'aborted');
  }
  assert.deepEqual([await s.feed('bob'), await s.unread('bob')], [1, 1], 'only the transaction before the batch');
});
