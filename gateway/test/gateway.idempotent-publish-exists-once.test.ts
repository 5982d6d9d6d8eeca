// Publishing with an idempotency key: a repeat answers the first publication and creates nothing
// (on the same gateway, on another, and racing itself on both); the same key for another request
// is refused; and when the gateway that took the first attempt is SIGKILLed before it could answer
// (after its decision, or before it), the publish sent again to another gateway ends with exactly
// one notification, counted once and pushed once.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RpcParams, RpcResults } from '@notify/lib/rpc';
import { CallError, failure, jsonRpcClient, register, startSystem, withPg, type Client, type System } from './helper.ts';

type Publish = RpcResults['notifications.publish'];

const storedNotifications = (system: System) =>
  withPg(system.persistDatabaseUrl, async (db) => (await db.query<{ id: string; title: string; state: string }>('SELECT id::text, title, state FROM notifications ORDER BY title')).rows);

/** Sends the publish until it is answered: a publish with its key may be sent again after TIMEOUT or UNAVAILABLE. */
async function publishUntilAnswered(client: Client, params: RpcParams<'notifications.publish'>, withinMs = 90_000): Promise<{ answer: Publish; attempts: number }> {
  const deadline = Date.now() + withinMs;
  for (let attempts = 1; ; attempts += 1) {
    try {
      return { answer: await client.call('notifications.publish', params), attempts };
    } catch (error) {
      const again = error instanceof CallError && (error.error.code === 'TIMEOUT' || error.error.code === 'UNAVAILABLE');
      if (!again || Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/** Pushes of `notificationId` a client has received once a later marker notification arrived after it. */
async function pushesOf(publisher: Client, subscriber: Client, topicId: string, notificationId: string): Promise<number> {
  const marker = await publisher.call('notifications.publish', { topicId, title: `zz marker ${Date.now()}`, body: '' });
  await subscriber.next('notification', (n) => n.id === marker.notification.id, 30_000);
  return subscriber.pushes.filter((push) => push.event === 'notification' && (push.data as { id: string }).id === notificationId).length;
}

test('a publish repeated with its key answers the first one, on any gateway and racing itself, and creates nothing twice', { timeout: 300_000 }, async (t) => {
  const system = await startSystem(t, { gateways: 2 });
  const [one, two] = system.gateways;
  const alice = await jsonRpcClient(one!, undefined, t);
  const a = await register(alice, 'alice');
  const aliceOnTwo = await jsonRpcClient(two!, a.token, t);
  const bob = await jsonRpcClient(two!, undefined, t);
  const b = await register(bob, 'bob');
  const mallory = await jsonRpcClient(one!, undefined, t);
  await register(mallory, 'mallory');
  const topic = await alice.call('topics.create', { name: `exactly-once-${Date.now()}` });
  const malloryTopic = await mallory.call('topics.create', { name: `mallory-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  await bob.call('topics.subscribe', { topicId: malloryTopic.id });

  const params = { topicId: topic.id, title: 'a deploy', body: 'v42 is live', email: false, idempotencyKey: 'deploy-v42' };
  const first = await alice.call('notifications.publish', params);
  assert.deepEqual(first.recipients, [b.id]);
  const again = await aliceOnTwo.call('notifications.publish', { ...params, email: undefined });
  assert.equal(again.notification.id, first.notification.id, 'the repeat (through the other gateway, `email` left out) answers the first');
  assert.deepEqual(again.recipients, first.recipients);
  assert.equal(again.notification.title, 'a deploy');

  // The same key for another request is refused and changes nothing.
  const reused = await failure(aliceOnTwo.call('notifications.publish', { ...params, body: 'v43 is live' }));
  assert.equal(reused.error.code, 'CONFLICT');
  assert.equal(reused.error.details?.reason, 'IDEMPOTENCY_KEY_REUSED');
  // Keys are the publisher's own: mallory's same key is another publication.
  const malloryOwn = await mallory.call('notifications.publish', { topicId: malloryTopic.id, title: 'a deploy', body: 'v42 is live', idempotencyKey: 'deploy-v42' });
  assert.notEqual(malloryOwn.notification.id, first.notification.id);

  // Eight attempts of one new key at once, across both gateways: one notification.
  const racing = { topicId: topic.id, title: 'a race', body: '', idempotencyKey: 'race-1' };
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => publishUntilAnswered(i % 2 ? aliceOnTwo : alice, racing)));
  assert.equal(new Set(answers.map(({ answer }) => answer.notification.id)).size, 1, 'every attempt answers the same notification');

  const stored = await storedNotifications(system);
  assert.deepEqual(stored.map((row) => row.title), ['a deploy', 'a deploy', 'a race'], 'one of each, and mallory’s own');
  assert.ok(stored.every((row) => row.state === 'committed'));
  const feed = (await bob.call('notifications.list', { topicId: topic.id })).notifications;
  assert.deepEqual(feed.map((n) => n.title).sort(), ['a deploy', 'a race']);
  assert.equal((await bob.call('counters.get')).unread, 3, 'counted once each (two of alice’s, one of mallory’s)');
  assert.equal(await pushesOf(alice, bob, topic.id, first.notification.id), 1, 'pushed once');
  assert.equal(await pushesOf(alice, bob, topic.id, answers[0]!.answer.notification.id), 1, 'the raced one pushed once');

  // Keys outside 1-255 visible ASCII characters are bad params, and nothing is stored.
  for (const idempotencyKey of ['', 'with space', 'x'.repeat(256), 'é', 'nul\u0000']) {
    const bad = await failure(alice.call('notifications.publish', { topicId: topic.id, title: 'bad key', body: '', idempotencyKey }));
    assert.equal(bad.error.code, 'INVALID_ARGUMENT', JSON.stringify(idempotencyKey));
  }
  assert.equal((await storedNotifications(system)).filter((row) => row.title === 'bad key').length, 0);
});

/**
 * Alice publishes with a key on a gateway set to die mid-publication; she never hears back. She
 * sends it again to the other gateway until it answers; the publication then exists exactly once.
 */
async function publishAcrossAKill(t: TestContext, fault: 'FAULT_KILL_AFTER_DECISION' | 'FAULT_KILL_MID_PREPARE') {
  const system = await startSystem(t, { gatewayEnv: { [fault]: 'true', TWO_PC_LEASE_MS: '2000', TWO_PC_RECOVERY_INTERVAL_MS: '200' } });
  const [doomed] = system.gateways;
  const survivor = await system.startGateway({ [fault]: 'false', INSTANCE_ID: 'gateway-2' });
  const alice = await jsonRpcClient(doomed!, undefined, t);
  const a = await register(alice, 'alice');
  const bob = await jsonRpcClient(survivor, undefined, t);
  const b = await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `kill-${fault}-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });

  const params = { topicId: topic.id, title: 'order 1001 shipped', body: 'tracking: 1Z999', idempotencyKey: 'order-1001-shipped' };
  let answered = false;
  void alice.call('notifications.publish', params).then(
    () => (answered = true),
    () => undefined,
  );
  const exit = await Promise.race([doomed!.exited, sleep(60_000).then(() => undefined)]);
  assert.equal(exit?.signal, 'SIGKILL', 'the gateway died mid-publication');
  assert.equal(answered, false, 'the first attempt was never answered');

  const aliceAgain = await jsonRpcClient(survivor, a.token, t);
  const { answer, attempts } = await publishUntilAnswered(aliceAgain, params);
  t.diagnostic(`${fault}: answered on attempt ${attempts}`);
  assert.deepEqual(answer.recipients, [b.id]);
  const stored = await storedNotifications(system);
  assert.deepEqual(stored, [{ id: answer.notification.id, title: 'order 1001 shipped', state: 'committed' }], 'exactly one notification');
  const repeat = await aliceAgain.call('notifications.publish', params);
  assert.equal(repeat.notification.id, answer.notification.id);

  await bob.next('notification', (n) => n.id === answer.notification.id, 30_000);
  assert.equal(await pushesOf(aliceAgain, bob, topic.id, answer.notification.id), 1, 'pushed once');
  assert.equal((await bob.call('counters.get')).unread, 2, 'counted once (plus the marker)');
  const feed = (await bob.call('notifications.list', {})).notifications.filter((n) => n.title === params.title);
  assert.equal(feed.length, 1);
}

test('a gateway SIGKILLed after deciding a keyed publish, before answering: sent again to another gateway, it exists once', { timeout: 300_000 }, async (t) => {
  await publishAcrossAKill(t, 'FAULT_KILL_AFTER_DECISION');
});

test('a gateway SIGKILLed before deciding a keyed publish: sent again to another gateway, it exists once', { timeout: 300_000 }, async (t) => {
  await publishAcrossAKill(t, 'FAULT_KILL_MID_PREPARE');
});
