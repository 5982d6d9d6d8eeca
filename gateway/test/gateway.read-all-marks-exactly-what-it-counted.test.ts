// notifications.readAll on the running system: one call marks 1,000 unread notifications read
// while publications and single acknowledgements race it, and every delivery ends up exactly one
// of marked, acknowledged alone, or unread, with the unread count equal to the unacknowledged
// deliveries; marking one topic read leaves the others; the new count is pushed after the commit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from './helper.ts';
import { CallError, jsonRpcClient, pushedSince, register, socketIoClient, startSystem, withPg, type System } from './helper.ts';

const UNREAD = 1_000;
const RACING_ACKS = 80;
const RACING_PUBLISHES = 40;

/** Every notification of the user's feed (not archived), page by page. */
async function wholeFeed(client: Client, params: { unreadOnly?: boolean; topicId?: string } = {}) {
  const items = [];
  let cursor: string | undefined;
  do {
    const page = await client.call('notifications.list', { ...params, limit: 100, ...(cursor ? { cursor } : {}) });
    items.push(...page.notifications);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

/** The invariant, read from the databases: each user's unread count equals their unacknowledged deliveries, and nothing is left half-done. */
async function countsEqualUnacknowledged(system: System, userIds: string[]): Promise<void> {
  const unacked = await withPg(system.persistDatabaseUrl, async (db) => {
    const { rows } = await db.query<{ user: string; n: number }>(
      `SELECT d.recipient_id AS user, count(*)::int AS n FROM deliveries d JOIN notifications n ON n.id = d.notification_id
       WHERE n.state = 'committed' AND d.ack_state <> 'acked' AND d.recipient_id = ANY($1) GROUP BY 1`,
      [userIds],
    );
    const pending = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE ack_state = 'pending'`);
    assert.equal(pending.rows[0]!.n, 0, 'no delivery is left claimed');
    return new Map(rows.map((row) => [row.user, row.n]));
  });
  await withPg(system.counterDatabaseUrl, async (db) => {
    const staged = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM staged_changes');
    assert.equal(staged.rows[0]!.n, 0, 'no change is left staged');
    const { rows } = await db.query<{ user_id: string; unread: number }>('SELECT user_id, unread FROM counters WHERE user_id = ANY($1)', [userIds]);
    const counts = new Map(rows.map((row) => [row.user_id, row.unread]));
    for (const id of userIds) assert.equal(counts.get(id) ?? 0, unacked.get(id) ?? 0, `user ${id}: the unread count is the unacknowledged deliveries`);
  });
}

test('notifications.readAll marks exactly what it counted, in one transaction, whatever races it', { timeout: 900_000 }, async (t) => {
  const system = await startSystem(t, { gatewayEnv: { MAX_INFLIGHT_PER_CONNECTION: '2048', MAX_INFLIGHT_PER_USER: '4096', CALLS_PER_SECOND_PER_USER: '0' } });
  const [gateway] = system.gateways;
  const publisher = await jsonRpcClient(gateway!, undefined, t);
  await register(publisher, 'publisher');
  const readerIo = await socketIoClient(gateway!, undefined, t);
  const reader = await register(readerIo, 'reader');
  // The same reader on a second connection, acknowledging one at a time while the first marks all read.
  const readerRpc = await jsonRpcClient(gateway!, reader.token, t);
  const topic = await publisher.call('topics.create', { name: `read-all-${Date.now()}` });
  const other = await publisher.call('topics.create', { name: `read-all-other-${Date.now()}` });
  for (const topicId of [topic.id, other.id]) await readerIo.call('topics.subscribe', { topicId });

  await t.test(`${UNREAD} unread, marked in one call while ${RACING_PUBLISHES} publications and ${RACING_ACKS} single acks race it: every delivery is marked, acked or unread, once`, async () => {
    const ids: string[] = [];
    for (let start = 0; start < UNREAD; start += 250) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(250, UNREAD - start) }, (_, i) => publisher.call('notifications.publish', { topicId: topic.id, title: `n${start + i}`, body: 'seed' })),
      );
      ids.push(...batch.map(({ notification }) => notification.id));
    }
    assert.equal((await readerIo.call('counters.get')).unread, UNREAD);

    const acked: string[] = [];
    const refusedAcks: string[] = [];
    const ack = async (notificationId: string) => {
      try {
        await readerRpc.call('notifications.ack', { notificationId });
        acked.push(notificationId);
      } catch (error) {
        // Claimed by the mark-all-read first: a conflict, and nothing changed.
        if (!(error instanceof CallError && error.error.code === 'CONFLICT')) throw error;
        refusedAcks.push(notificationId);
      }
    };
    // Acks of the newest (the feed's first page, what a person would be clicking), spread around the call.
    const racingAcks = ids.slice(-RACING_ACKS);
    const started = performance.now();
    const [result] = await Promise.all([
      (async () => {
        // A few acks and publications are under way before the call.
        await new Promise((resolve) => setImmediate(resolve));
        const answer = await readerIo.call('notifications.readAll', {});
        t.diagnostic(`readAll of ${answer.marked} took ${Math.round(performance.now() - started)} ms with the races`);
        return answer;
      })(),
      Promise.all(racingAcks.map((id, i) => new Promise((resolve) => setTimeout(resolve, i * 3)).then(() => ack(id)))),
      Promise.all(Array.from({ length: RACING_PUBLISHES }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => publisher.call('notifications.publish', { topicId: i % 2 ? topic.id : other.id, title: `racing ${i}`, body: 'race' })))),
    ]);
    t.diagnostic(`acks: ${acked.length} ok, ${refusedAcks.length} refused (claimed by the mark-all-read)`);
    assert.equal(result.ok, true);
    assert.equal(acked.length + refusedAcks.length, RACING_ACKS);

    // Every delivery is exactly one of: marked by the call, acknowledged alone, still unread.
    const unread = await wholeFeed(readerIo, { unreadOnly: true });
    const { unread: count } = await readerIo.call('counters.get');
    assert.equal(count, unread.length, 'the count is the unread notifications listed');
    assert.equal(result.marked + acked.length + unread.length, UNREAD + RACING_PUBLISHES, 'marked + acked alone + unread = every delivery');
    const seeded = new Set(ids);
    assert.deepEqual(unread.filter((n) => seeded.has(n.id)), [], 'every notification committed before the call is read');
    assert.ok(result.marked >= UNREAD - acked.length, 'the call marked every seeded one not acknowledged alone');
    await countsEqualUnacknowledged(system, [reader.id]);
  });

  await t.test('marking one topic read leaves the others; the new count is pushed to every connection after the commit', async () => {
    // Start from nothing unread.
    await readerIo.call('notifications.readAll', {});
    for (let i = 0; i < 5; i += 1) await publisher.call('notifications.publish', { topicId: topic.id, title: `t${i}`, body: '' });
    for (let i = 0; i < 3; i += 1) await publisher.call('notifications.publish', { topicId: other.id, title: `o${i}`, body: '' });
    assert.equal((await readerIo.call('counters.get')).unread, 8);
    const pushedBefore = readerRpc.pushes.length;

    const one = await readerIo.call('notifications.readAll', { topicId: topic.id });
    assert.deepEqual(one, { ok: true, marked: 5, unread: 3 });
    assert.deepEqual(
      (await wholeFeed(readerIo, { unreadOnly: true })).map((n) => n.topicId),
      [other.id, other.id, other.id],
    );
    assert.deepEqual((await wholeFeed(readerIo, { topicId: topic.id })).filter((n) => !n.read), []);
    // The other connection hears the new count (the counts before were never 3 after publishing 8).
    await pushedSince(readerRpc, pushedBefore, 'counter', (pushed) => pushed.unread === 3);

    assert.deepEqual(await readerIo.call('notifications.readAll', { topicId: topic.id }), { ok: true, marked: 0, unread: 3 }, 'nothing left to mark there');
    assert.deepEqual(await readerIo.call('notifications.readAll', {}), { ok: true, marked: 3, unread: 0 });
    assert.deepEqual(await readerIo.call('notifications.readAll', {}), { ok: true, marked: 0, unread: 0 });
    await countsEqualUnacknowledged(system, [reader.id]);
  });

  await t.test('another user’s topic, an unknown topic or forged params mark nothing of anyone', async () => {
    await publisher.call('notifications.publish', { topicId: other.id, title: 'keep', body: '' });
    const stranger = await jsonRpcClient(gateway!, undefined, t);
    await register(stranger, 'stranger');
    assert.deepEqual(await stranger.call('notifications.readAll', { topicId: other.id }), { ok: true, marked: 0, unread: 0 });
    assert.deepEqual(await stranger.call('notifications.readAll', {}), { ok: true, marked: 0, unread: 0 });
    for (const params of [{ topicId: 'not-a-uuid' }, { topicId: other.id, userId: reader.id }, { userId: reader.id }]) {
      const error = await readerIo.call('notifications.readAll', params as never).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof CallError && error.error.code === 'INVALID_ARGUMENT', JSON.stringify(params));
    }
    assert.equal((await readerIo.call('counters.get')).unread, 1, 'the reader’s own unread notification is still unread');
    await countsEqualUnacknowledged(system, [reader.id]);
  });
});
