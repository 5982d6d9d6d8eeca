// Contention is not an error, and group commit loses nothing: 1,000 publish+ack rounds at once
// across two gateways (every commit touches the same users' counter rows, batches of both kinds
// run on both gateways at once) all succeed, a call refused as UNAVAILABLE or aborted being tried
// again as a client is told to (a loaded machine can open a breaker); every user's unread count equals the notifications
// delivered to them and not yet acknowledged; nothing is doubled; no transaction is left prepared;
// each publication and acknowledgement is committed once (an aborted attempt leaves only its aborted row).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { metricSample, metricSum } from '../../lib/src/testing/index.ts';
import { CallError, jsonRpcClient, register, socketIoClient, startSystem, withPg } from './helper.ts';

const ROUNDS = 1_000;

test('1,000 concurrent publish+ack rounds across two gateways: no failure, nothing doubled, counts equal unacknowledged deliveries, nothing left prepared', { timeout: 900_000 }, async (t) => {
  // All rounds share two publisher connections: the per-connection in-flight limit (64) is raised past them.
  const system = await startSystem(t, { gateways: 2, gatewayEnv: { MAX_INFLIGHT_PER_CONNECTION: '2048', MAX_INFLIGHT_PER_USER: '4096', CALLS_PER_SECOND_PER_USER: '0' } });
  const [one, two] = system.gateways;
  const first = await socketIoClient(one!, undefined, t);
  const owner = await register(first, 'publisher');
  // The same publisher on the other gateway too.
  const publishers = [first, await jsonRpcClient(two!, owner.token, t)];
  const readers = await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const client = i % 2 ? await jsonRpcClient(i < 2 ? one! : two!, undefined, t) : await socketIoClient(i < 2 ? one! : two!, undefined, t);
      return { client, user: await register(client, `reader-${i}`), acked: 0 };
    }),
  );
  const topic = await publishers[0]!.call('topics.create', { name: `contention-${Date.now()}` });
  for (const { client } of readers) await client.call('topics.subscribe', { topicId: topic.id });

  const failures: string[] = [];
  let retried = 0;
  /** Of those, the calls answered that their transaction was aborted: each leaves one aborted row in the log. */
  let abortedRetries = 0;
  /**
   * As a client is told to: a call refused as UNAVAILABLE, or whose transaction was aborted
   * (`details.aborted`: nothing happened), is tried again after a pause. A call whose outcome is not
   * known (a TIMEOUT without `aborted`) is not, and fails the round.
   */
  const patiently = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        // A participant that could not be reached votes no: its refusal is UNAVAILABLE and aborted.
        const aborted = error instanceof CallError && (error.error.details as { aborted?: boolean } | undefined)?.aborted === true;
        const refused = aborted || (error instanceof CallError && error.error.code === 'UNAVAILABLE');
        if (!refused || attempt === 20) throw error;
        retried += 1;
        if (aborted) abortedRetries += 1;
        await sleep(Math.min(5_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  };
  await Promise.all(
    Array.from({ length: ROUNDS }, async (_, i) => {
      try {
        const { notification } = await patiently(() => publishers[i % 2]!.call('notifications.publish', { topicId: topic.id, title: `n${i}`, body: 'contended' }));
        // Two of the four readers (one on each gateway) acknowledge each one as soon as its push
        // reaches them, at once, while the other rounds are still publishing and acknowledging.
        await Promise.all(
          [readers[i % 4]!, readers[(i + 1) % 4]!].map(async (reader) => {
            await reader.client.next('notification', (pushed) => pushed.id === notification.id, 300_000);
            await patiently(() => reader.client.call('notifications.ack', { notificationId: notification.id }));
            reader.acked += 1;
          }),
        );
      } catch (error) {
        failures.push(`round ${i}: ${(error as Error).message}`);
      }
    }),
  );
  t.diagnostic(`calls tried again after a refusal (UNAVAILABLE, or aborted): ${retried}, of them aborted: ${abortedRetries}`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${ROUNDS} rounds failed`);
  for (const { client, acked } of readers) {
    const { unread } = await client.call('counters.get');
    assert.equal(unread, ROUNDS - acked, 'the count is the deliveries not acknowledged');
    const ids = new Set<string>();
    let unreadListed = 0;
    let cursor: string | undefined;
    do {
      const page = await client.call('notifications.list', { limit: 100, ...(cursor ? { cursor } : {}) });
      for (const item of page.notifications) {
        ids.add(item.id);
        if (!item.read) unreadListed += 1;
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(ids.size, ROUNDS, 'every publication in the feed, once');
    assert.equal(unreadListed, unread, 'the feed’s unread items match the count');
    const pushed = client.pushes.filter((push) => push.event === 'notification').map((push) => (push.data as { id: string }).id);
    assert.equal(new Set(pushed).size, pushed.length, 'no notification pushed twice');
  }

  // Every transaction finished everywhere: nothing prepared, nothing open in the log.
  const open = async () => ({
    persist: await withPg(system.persistDatabaseUrl, async (db) => (await db.query(`SELECT count(*)::int AS n FROM two_phase_transactions WHERE state = 'prepared'`)).rows[0].n),
    counter: await withPg(system.counterDatabaseUrl, async (db) => (await db.query(`SELECT count(*)::int AS n FROM two_phase_transactions WHERE state = 'prepared'`)).rows[0].n),
    coordinator: await withPg(system.gatewayDatabaseUrl, async (db) => (await db.query('SELECT count(*)::int AS n FROM coordinator_transactions WHERE completed_at IS NULL')).rows[0].n),
  });
  const deadline = Date.now() + 60_000;
  while (Object.values(await open()).some((n) => n > 0)) {
    assert.ok(Date.now() < deadline, `every transaction finished within 60 s: ${JSON.stringify(await open())}`);
    await sleep(200);
  }
  const rows = await withPg(system.gatewayDatabaseUrl, async (db) => (await db.query(`SELECT state, count(*)::int AS n FROM coordinator_transactions GROUP BY state ORDER BY state`)).rows);
  const transactions = Object.fromEntries(rows.map((row: { state: string; n: number }) => [row.state, row.n]));
  t.diagnostic(`coordinator log by state: ${JSON.stringify(transactions)}`);
  // On a loaded machine an attempt may be aborted (its caller told so, and trying again): it leaves
  // an aborted row, and nothing else; every publication and acknowledgement is committed once.
  assert.equal(transactions.committed, ROUNDS + 2 * ROUNDS, 'one committed log row per publication and per acknowledgement');
  assert.ok((transactions.aborted ?? 0) <= abortedRetries, `aborted rows (${transactions.aborted ?? 0}) are attempts their callers were told were aborted (${abortedRetries})`);
  assert.deepEqual(Object.keys(transactions).filter((state) => state !== 'committed' && state !== 'aborted'), [], `no other state: ${JSON.stringify(transactions)}`);

  // And they were group-committed: fewer batches than transactions on each gateway.
  for (const gateway of [one!, two!]) {
    const batches = await metricSample(gateway.url, 'twopc_coordinator_batch_size_count');
    const items = await metricSum(gateway.url, 'twopc_coordinator_batch_size_sum');
    assert.ok(batches !== undefined && items !== undefined && items > batches, `batches of more than one transaction on average (${items} in ${batches})`);
  }
});
