// Fanout in one process, over fake connections and fake persist and counter: a bus message reaches
// exactly the connections it concerns and no other; the bookkeeping of a turn's pushes is one
// counter read (each user once) and one batch of delivered events; a failed read or record
// leaves the pushes out; counter, logout and subscription-change messages do what they say.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createError } from '@notify/lib';
import type { Notification } from '@notify/lib/rpc';
import type { BusMessage } from '../src/push/fanout.ts';
import { INSTANCE_ID, inProcessGateway, type InProcessGateway } from './fakes/gateway.ts';

function notification(title: string): Notification {
  return {
    id: randomUUID(),
    topicId: randomUUID(),
    publisherId: 'publisher',
    publisherName: 'Publisher',
    publisherAvatarUrl: '/avatars/publisher.png',
    title,
    body: '',
    email: false,
    url: null,
    createdAt: new Date().toISOString(),
    read: false,
    archived: false,
    ackedAt: null,
  };
}

const published = (notice: Notification, recipients: string[]): BusMessage => ({ kind: 'notification', notification: notice, recipients, committedAt: Date.now() });

/** Counter answers from `unread`; persist records any events. */
function bookkeeping(gateway: InProcessGateway, unread: Record<string, number>) {
  gateway.upstreams.counter.answer('queryCounters', ({ body }) => ({ counters: Object.fromEntries(body.userIds.filter((userId) => userId in unread).map((userId) => [userId, unread[userId]!])) }));
  gateway.upstreams.persist.answer('recordEvents', ({ body }) => ({ recorded: body.events.length, skipped: 0 }));
}

test('a notification reaches every connection of each recipient here, and no other connection', async (t) => {
  const gateway = await inProcessGateway(t);
  bookkeeping(gateway, { ada: 3, bob: 1 });
  const ada = [gateway.connect('ada'), gateway.connect('ada', { transport: 'socket.io' })];
  const bob = gateway.connect('bob');
  const carol = gateway.connect('carol');
  const anonymous = gateway.connect();
  const first = notification('first');
  const second = notification('second');

  // Two notifications in one turn: dan has no connection here.
  await Promise.all([gateway.fanout.handle(published(first, ['ada', 'bob', 'dan'])), gateway.fanout.handle(published(second, ['ada']))]);
  for (const connection of ada) assert.deepEqual(connection.pushed('notification'), [first, second]);
  assert.deepEqual(bob.pushed('notification'), [first]);
  assert.deepEqual(carol.pushes, [], 'not a recipient');
  assert.deepEqual(anonymous.pushes, [], 'no user');
  assert.equal(ada[0]!.pushed('notification')[0], ada[1]!.pushed('notification')[0], 'one object for every connection (encoded once by the transport)');

  await gateway.fanout.drain();
  const reads = gateway.upstreams.counter.calls('queryCounters');
  assert.equal(reads.length, 1, 'one counter read for the turn');
  assert.deepEqual([...reads[0]!.body.userIds].sort(), ['ada', 'bob'], 'each local recipient once');
  for (const connection of ada) assert.deepEqual(connection.pushed('counter'), [{ unread: 3 }]);
  assert.deepEqual(bob.pushed('counter'), [{ unread: 1 }]);
  assert.deepEqual(carol.pushes, []);

  const records = gateway.upstreams.persist.calls('recordEvents');
  assert.equal(records.length, 1, 'one batch of delivered events');
  const events = records[0]!.body.events.map((event) => [event.notificationId, event.recipientId, event.detail?.connection, event.detail?.transport, event.detail?.gateway].join(' '));
  const expected = [
    ...ada.map((connection) => [first.id, 'ada', connection.id, connection.transport, INSTANCE_ID].join(' ')),
    [first.id, 'bob', bob.id, 'jsonrpc', INSTANCE_ID].join(' '),
    ...ada.map((connection) => [second.id, 'ada', connection.id, connection.transport, INSTANCE_ID].join(' ')),
  ];
  assert.deepEqual(events.sort(), expected.sort(), 'one delivered event per connection pushed to');
  assert.ok(records[0]!.body.events.every((event) => event.type === 'delivered'));
});

test('a notification for no one connected here costs no upstream call', async (t) => {
  const gateway = await inProcessGateway(t);
  bookkeeping(gateway, {});
  gateway.connect('carol');
  await gateway.fanout.handle(published(notification('elsewhere'), ['ada', 'bob']));
  await gateway.fanout.drain();
  assert.equal(gateway.upstreams.counter.callCount + gateway.upstreams.persist.callCount, 0);
});

test('bookkeeping that fails leaves the pushes out: no counter push, the failed record counted', async (t) => {
  const gateway = await inProcessGateway(t);
  gateway.upstreams.counter.answer('queryCounters', () => {
    throw createError({ code: 'UNAVAILABLE', message: 'counter is down' });
  });
  gateway.upstreams.persist.answer('recordEvents', () => {
    throw createError({ code: 'UNAVAILABLE', message: 'persist is down' });
  });
  const ada = gateway.connect('ada');
  const notice = notification('still pushed');
  await gateway.fanout.handle(published(notice, ['ada']));
  await gateway.fanout.drain();
  assert.deepEqual(ada.pushes, [{ event: 'notification', data: notice }]);
  assert.equal((await gateway.metrics.deliveryRecordFailures.get()).values[0]?.value, 1);
  assert.deepEqual(
    new Set(gateway.log.at('warn').map((entry) => entry.message)),
    new Set(['unread counts not read after notifications; no counter push', 'delivered events not recorded in the trace']),
  );
});

test('counter, logout and subscription-change messages reach what they name', async (t) => {
  const gateway = await inProcessGateway(t);
  const ada = gateway.connect('ada');
  const adaElsewhere = gateway.connect('ada');
  const bob = gateway.connect('bob');

  await gateway.fanout.handle({ kind: 'counter', userId: 'ada', unread: 7 });
  assert.deepEqual([ada.pushed('counter'), adaElsewhere.pushed('counter'), bob.pushes], [[{ unread: 7 }], [{ unread: 7 }], []]);

  // A logout ends the sessions of that token only (ada's other connection has its own token).
  await gateway.fanout.handle({ kind: 'logout', tokenHash: ada.session!.tokenHash });
  assert.equal(ada.session, undefined);
  assert.deepEqual(ada.pushed('session.ended'), [{ reason: 'logged out' }]);
  assert.equal(adaElsewhere.session?.user.id, 'ada');
  assert.deepEqual(adaElsewhere.pushed('session.ended'), []);
  assert.deepEqual(gateway.connections.ofUser('ada'), new Set([adaElsewhere]));

  const topic = { id: randomUUID(), name: 'n', description: '', creatorId: 'ada', creatorName: 'Ada', createdAt: new Date().toISOString(), subscriberCount: 1 };
  gateway.upstreams.persist.answer('listSubscribers', () => ({ topic, subscribers: ['bob'], muted: [], emailOptOut: [], nextCursor: null }));
  await gateway.subscribers.get(topic.id, 'ada');
  await gateway.subscribers.get(topic.id, 'ada');
  assert.equal(gateway.upstreams.persist.calls('listSubscribers').length, 1, 'cached');
  await gateway.fanout.handle({ kind: 'subscribers-changed', topicId: topic.id });
  await gateway.subscribers.get(topic.id, 'ada');
  assert.equal(gateway.upstreams.persist.calls('listSubscribers').length, 2, 'evicted, read again');
});
