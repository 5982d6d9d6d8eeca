// The stale-subscriber-list retry of a publication, in one process: the kit's Coordinator (its log
// on a real PostgreSQL) runs the publication against fake participants, persist's fake voting as
// persist does (CONFLICT when the recipients are not, or no longer are, the whole audience). A
// publication whose cached list is stale evicts it, reads it again once and commits once; a
// second refusal stands; `to` naming a stranger is refused after one fresh read.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { counterActions, persistActions, type CreateNotificationPayload } from '@notify/lib/contracts';
import { sessionOf } from './fakes/connections.ts';
import { inProcessGateway, type InProcessGateway } from './fakes/gateway.ts';
import { gate, refused, until } from './fakes/wait.ts';

const PUBLISHER = 'publisher';

/** A topic whose subscriber list the test changes behind the gateway's back (no eviction message), with persist's rules. */
function topicOf(gateway: InProcessGateway, initial: string[]) {
  const topic = { id: randomUUID(), name: 'releases', description: '', creatorId: PUBLISHER, creatorName: 'Publisher', createdAt: new Date().toISOString(), subscriberCount: initial.length };
  const current = [...initial];
  gateway.upstreams.persist.answer('listSubscribers', ({ params }) => {
    assert.equal(params.id, topic.id);
    return { topic, subscribers: [...current], muted: [], emailOptOut: [], nextCursor: null };
  });
  gateway.participants.voteOn(persistActions.notificationCreate, (payload) => {
    const subscribed = new Set(current);
    if (payload.recipients.some((userId) => !subscribed.has(userId))) return { code: 'CONFLICT', message: 'some recipients are not subscribed to the topic', details: { topicId: topic.id } };
    if (payload.audience === 'subscribers' && payload.recipients.length !== current.length) {
      return { code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: topic.id, reason: 'SUBSCRIBERS_CHANGED' } };
    }
    return undefined;
  });
  return { topic, subscribe: (userId: string) => void current.push(userId) };
}

const persistPrepares = (gateway: InProcessGateway) =>
  gateway.participants.prepared.filter((item) => item.service === 'persist').map((item) => ({ txId: item.txId, ...(item.payload as CreateNotificationPayload) }));
const reads = (gateway: InProcessGateway) => gateway.upstreams.persist.calls('listSubscribers').length;

test('a publish whose first prepare hears persist’s CONFLICT evicts the cached list, reads it again and commits once', async (t) => {
  const gateway = await inProcessGateway(t, { database: true });
  const { topic, subscribe } = topicOf(gateway, ['a', 'b']);
  assert.deepEqual((await gateway.subscribers.get(topic.id, PUBLISHER)).subscribers, ['a', 'b'], 'the list is cached');
  subscribe('c');

  // The fresh read is held, to see what other readers of the cache get meanwhile.
  const freshRead = gate();
  gateway.upstreams.persist.answer('listSubscribers', async () => {
    await freshRead.wait();
    return { topic, subscribers: ['a', 'b', 'c'], muted: [], emailOptOut: [], nextCursor: null };
  });
  const publishing = gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 'v2', body: 'out now' });
  await freshRead.entered;
  const [refused] = persistPrepares(gateway);
  assert.deepEqual([refused?.recipients, refused?.audience], [['a', 'b'], 'subscribers'], 'the first try used the cached list');
  // The stale list is gone from the cache: a reader now joins the fresh read instead of getting it.
  const meanwhile = gateway.subscribers.get(topic.id, PUBLISHER);
  freshRead.open();
  assert.deepEqual((await meanwhile).subscribers, ['a', 'b', 'c']);

  const published = await publishing;
  assert.deepEqual(published.recipients, ['a', 'b', 'c']);
  assert.equal(reads(gateway), 2, 'one read for the cache, one fresh read');
  const prepares = persistPrepares(gateway);
  assert.equal(prepares.length, 2, 'one retry');
  const committed = prepares[1]!;
  assert.deepEqual([committed.recipients, committed.audience, committed.notificationId], [['a', 'b', 'c'], 'subscribers', published.notification.id]);
  for (const service of ['persist', 'counter']) {
    assert.deepEqual(gateway.participants.inState(service, 'committed'), [committed.txId], `${service} committed once, the second try`);
    assert.deepEqual(gateway.participants.inState(service, 'aborted'), [refused!.txId], `${service} rolled the first try back`);
  }
  const counted = gateway.participants.prepared.filter((item) => item.service === 'counter' && item.txId === committed.txId);
  assert.deepEqual((counted[0]?.payload as { recipients: string[] }).recipients, ['a', 'b', 'c'], 'counter counts the same recipients');
  await until(() => gateway.bus.length > 0, 'the notification on the bus');
  assert.deepEqual(
    gateway.bus.map((message) => (message.kind === 'notification' ? [message.notification.id, message.recipients] : message.kind)),
    [[published.notification.id, ['a', 'b', 'c']]],
    'one notification is pushed, to the fresh list',
  );

  // The fresh list is what the cache keeps now: the next publish reads nothing.
  await gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 'v2.1', body: 'fixes' });
  assert.equal(reads(gateway), 2);
  assert.equal(persistPrepares(gateway).length, 3);
});

test('persist’s CONFLICT on the fresh list too: the refusal stands after one retry, nothing commits', async (t) => {
  const gateway = await inProcessGateway(t, { database: true });
  const { topic } = topicOf(gateway, ['a', 'b']);
  gateway.participants.voteOn(persistActions.notificationCreate, () => ({ code: 'CONFLICT', message: 'the topic’s subscribers changed; read them again', details: { topicId: topic.id } }));

  const refusal = await refused(gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 't', body: 'b' }));
  assert.equal(refusal.code, 'CONFLICT');
  assert.deepEqual(refusal.details, { topicId: topic.id, participant: 'persist', aborted: true });
  assert.equal(persistPrepares(gateway).length, 2, 'tried twice, not more');
  assert.equal(reads(gateway), 2, 'the first read and one fresh one');
  assert.deepEqual(gateway.participants.inState('persist', 'committed'), []);
  assert.deepEqual(gateway.participants.inState('counter', 'committed'), []);
  assert.deepEqual(gateway.bus, []);
});

test('a CONFLICT from counter is not about the list: no fresh read, no retry', async (t) => {
  const gateway = await inProcessGateway(t, { database: true });
  const { topic } = topicOf(gateway, ['a']);
  gateway.participants.voteOn(counterActions.notificationCreate, () => ({ code: 'CONFLICT', message: 'counted already' }));
  const refusal = await refused(gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 't', body: 'b' }));
  assert.deepEqual([refusal.code, refusal.details.participant], ['CONFLICT', 'counter']);
  assert.equal(persistPrepares(gateway).length, 1);
  assert.equal(reads(gateway), 1);
});

test('`to` naming a non-subscriber is refused after one fresh read, before any transaction; one who subscribed since the list was cached is reached', async (t) => {
  const gateway = await inProcessGateway(t, { database: true });
  const { topic, subscribe } = topicOf(gateway, ['a', 'b']);
  await gateway.subscribers.get(topic.id, PUBLISHER);

  const refusal = await refused(gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 't', body: 'b', to: ['a', 'zed'] }));
  assert.deepEqual([refusal.code, refusal.details], ['INVALID_ARGUMENT', { notSubscribed: ['zed'] }]);
  assert.equal(reads(gateway), 2, 'the cached list, then exactly one fresh read');
  assert.equal(gateway.participants.requests.length, 0, 'no transaction was started');

  subscribe('zed');
  const published = await gateway.publications.publish(sessionOf(PUBLISHER), { topicId: topic.id, title: 't', body: 'b', to: ['a', 'zed'] });
  assert.deepEqual(published.recipients, ['a', 'zed']);
  assert.equal(reads(gateway), 3, 'the cached list lacked zed: one fresh read');
  const prepares = persistPrepares(gateway);
  assert.deepEqual(
    prepares.map((prepare) => [prepare.recipients, prepare.audience]),
    [[['a', 'zed'], 'listed']],
  );
  assert.deepEqual(gateway.participants.inState('persist', 'committed'), [prepares[0]!.txId]);
});
