// The publication and acknowledgement definitions in one process: what follows a commit. A
// publication's afterCommit puts the notification on the bus (and so on its recipients'
// connections); its followUp hands the emails to the mailer in batches of at most 1,000 (each
// recipient with their unsubscribe links), skipping the muted and the opted out, takes a refusal as final and throws anything else so the coordinator asks again. An ack's afterCommit
// pushes the user's new count. Last, the whole path: a publish frame to the push and the email,
// and an ack frame to the new count, through the kit's Coordinator on a real PostgreSQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createError } from '@notify/lib';
import { MAILER_MAX_RECIPIENTS_WITH_LINKS, type CreateNotificationPayload } from '@notify/lib/contracts';
import type { Notification } from '@notify/lib/rpc';
import { handleFrame } from '../src/transports/json-rpc-frames.ts';
import { inProcessGateway, type InProcessGateway } from './fakes/gateway.ts';
import { refused, until } from './fakes/wait.ts';

const PUBLISHER = 'publisher';

function topicOf(gateway: InProcessGateway, subscribers: string[]) {
  const topic = { id: randomUUID(), name: 'releases', description: '', creatorId: PUBLISHER, creatorName: 'Publisher', createdAt: new Date().toISOString(), subscriberCount: subscribers.length };
  gateway.upstreams.persist.answer('listSubscribers', () => ({ topic, subscribers, muted: [], emailOptOut: [], nextCursor: null }));
  return topic;
}

function payloads(topicId: string, recipients: string[], email: boolean) {
  const persist: CreateNotificationPayload = { notificationId: randomUUID(), topicId, publisherId: PUBLISHER, publisherName: 'Publisher', title: 'v2', body: 'out now', email, url: null, recipients, audience: 'subscribers', muted: [], emailOptOut: [] };
  return { persist, counter: { notificationId: persist.notificationId, recipients } };
}

const mailerTakes = (gateway: InProcessGateway) =>
  gateway.upstreams.mailer.answer('notificationEmails', ({ body }) => ({ jobIds: body.recipients.map(() => randomUUID()), queued: body.recipients.length, duplicates: 0 }));

test('a publication’s afterCommit puts the committed notification on the bus, and the bus on its recipients’ connections', async (t) => {
  const gateway = await inProcessGateway(t);
  gateway.upstreams.counter.answer('queryCounters', ({ body }) => ({ counters: Object.fromEntries(body.userIds.map((userId) => [userId, 1])) }));
  gateway.upstreams.persist.answer('recordEvents', ({ body }) => ({ recorded: body.events.length, skipped: 0 }));
  const ada = gateway.connect('ada');
  const carol = gateway.connect('carol');
  const topic = topicOf(gateway, ['ada', 'bob']);
  const { persist, counter } = payloads(topic.id, ['ada', 'bob'], false);

  const before = Date.now();
  await gateway.publication.afterCommit!({ persist, counter }, 'tx-1');
  const expected: Notification = {
    id: persist.notificationId,
    topicId: topic.id,
    publisherId: PUBLISHER,
    publisherName: 'Publisher',
    publisherAvatarUrl: `/avatars/${PUBLISHER}?v=generated`,
    title: 'v2',
    body: 'out now',
    email: false,
    url: null,
    createdAt: '',
    read: false,
    ackedAt: null,
    archived: false,
  };
  assert.equal(gateway.bus.length, 1);
  const [message] = gateway.bus;
  assert.ok(message?.kind === 'notification');
  assert.deepEqual({ ...message.notification, createdAt: '' }, expected);
  assert.deepEqual(message.recipients, ['ada', 'bob']);
  assert.ok(message.committedAt >= before && message.committedAt <= Date.now());
  assert.equal(message.notification.createdAt, new Date(message.committedAt).toISOString(), 'created when committed');
  assert.deepEqual(ada.pushed('notification'), [message.notification]);
  assert.deepEqual(carol.pushes, []);
  assert.equal(gateway.upstreams.mailer.callCount, 0, 'emails are the follow-up’s, not afterCommit’s');
});

test('followUp hands the emails to the mailer in batches of at most 1,000 (each recipient with their unsubscribe links), each recipient once, with the topic’s name', async (t) => {
  const gateway = await inProcessGateway(t);
  const topic = topicOf(gateway, []);
  mailerTakes(gateway);
  const recipients = Array.from({ length: 2 * MAILER_MAX_RECIPIENTS_WITH_LINKS + 1 }, (_, at) => `user-${at}`);
  const { persist, counter } = payloads(topic.id, recipients, true);

  await gateway.publication.followUp!({ persist, counter }, 'tx-1');
  const calls = gateway.upstreams.mailer.calls('notificationEmails');
  assert.deepEqual(
    calls.map((call) => call.body.recipients.length),
    [MAILER_MAX_RECIPIENTS_WITH_LINKS, MAILER_MAX_RECIPIENTS_WITH_LINKS, 1],
  );
  assert.deepEqual(
    calls.flatMap((call) => call.body.recipients),
    recipients,
    'every recipient once, in order',
  );
  for (const call of calls) {
    assert.deepEqual({ ...call.body, recipients: [], unsubscribe: {} }, { notificationId: persist.notificationId, topic: { id: topic.id, name: 'releases' }, title: 'v2', body: 'out now', recipients: [], unsubscribe: {} });
    assert.deepEqual(Object.keys(call.body.unsubscribe ?? {}), call.body.recipients, 'each recipient has their links');
    for (const links of Object.values(call.body.unsubscribe ?? {})) assert.match(links.topic, /^http:\/\/[^/]+\/api\/v1\/unsubscribe\?token=/);
  }

  // Without `email`, or without recipients, there is nothing to send.
  await gateway.publication.followUp!(payloads(topic.id, ['ada'], false), 'tx-2');
  await gateway.publication.followUp!(payloads(topic.id, [], true), 'tx-3');
  assert.equal(gateway.upstreams.mailer.calls('notificationEmails').length, 3);
});

test('followUp emails neither the recipients who muted the topic nor those who opted out of its email', async (t) => {
  const gateway = await inProcessGateway(t);
  const topic = topicOf(gateway, []);
  mailerTakes(gateway);
  const { persist, counter } = payloads(topic.id, ['ada', 'bob', 'cy', 'dee'], true);
  await gateway.publication.followUp!({ persist: { ...persist, muted: ['bob'], emailOptOut: ['cy'] }, counter }, 'tx-1');
  assert.deepEqual(gateway.upstreams.mailer.calls('notificationEmails').flatMap((call) => call.body.recipients), ['ada', 'dee']);
});

test('followUp names a topic deleted since the publication “a deleted topic” and still sends', async (t) => {
  const gateway = await inProcessGateway(t);
  gateway.upstreams.persist.answer('listSubscribers', () => {
    throw createError({ code: 'NOT_FOUND', message: 'no such topic' });
  });
  mailerTakes(gateway);
  await gateway.publication.followUp!(payloads(randomUUID(), ['ada'], true), 'tx-1');
  assert.equal(gateway.upstreams.mailer.calls('notificationEmails')[0]?.body.topic.name, 'a deleted topic');
});

test('a mailer refusal is final (logged, the follow-up done); UNAVAILABLE and TIMEOUT are thrown for the coordinator to retry', async (t) => {
  const gateway = await inProcessGateway(t);
  const topic = topicOf(gateway, []);
  const { persist, counter } = payloads(topic.id, ['ada', 'bob'], true);

  gateway.upstreams.mailer.answer('notificationEmails', () => {
    throw createError({ code: 'INVALID_ARGUMENT', message: 'recipients: unknown users' });
  });
  await gateway.publication.followUp!({ persist, counter }, 'tx-1');
  const [logged] = gateway.log.at('error');
  assert.equal(logged?.fields.notificationId, persist.notificationId);
  assert.match(logged?.message ?? '', /mailer refused/);

  for (const code of ['UNAVAILABLE', 'TIMEOUT'] as const) {
    gateway.upstreams.mailer.answer('notificationEmails', () => {
      throw createError({ code, message: 'the mailer did not answer' });
    });
    assert.equal((await refused(gateway.publication.followUp!({ persist, counter }, 'tx-1'))).code, code);
  }
  assert.equal(gateway.log.at('error').length, 1, 'only the refusal was logged as final');
});

test('a batch the mailer refuses does not keep the batches after it from being sent', async (t) => {
  const gateway = await inProcessGateway(t);
  const topic = topicOf(gateway, []);
  const recipients = Array.from({ length: MAILER_MAX_RECIPIENTS_WITH_LINKS + 2 }, (_, at) => `user-${at}`);
  let asked = 0;
  gateway.upstreams.mailer.answer('notificationEmails', ({ body }) => {
    asked += 1;
    if (asked === 1) throw createError({ code: 'INVALID_ARGUMENT', message: 'recipients: unknown users' });
    return { jobIds: body.recipients.map(() => randomUUID()), queued: body.recipients.length, duplicates: 0 };
  });
  await gateway.publication.followUp!(payloads(topic.id, recipients, true), 'tx-1');
  assert.deepEqual(
    gateway.upstreams.mailer.calls('notificationEmails').map((call) => call.body.recipients.length),
    [MAILER_MAX_RECIPIENTS_WITH_LINKS, 2],
    'the second batch was asked for after the first was refused',
  );
  assert.equal(gateway.log.at('error').length, 1, 'the refused batch was logged');
});

test('an acknowledgement’s afterCommit pushes the user’s new count, read after the commit', async (t) => {
  const gateway = await inProcessGateway(t);
  gateway.upstreams.counter.answer('queryCounters', ({ body }) => ({ counters: Object.fromEntries(body.userIds.map((userId) => [userId, 4])) }));
  const ada = gateway.connect('ada');
  const bob = gateway.connect('bob');
  const ack = { notificationId: randomUUID(), userId: 'ada' };
  await gateway.acknowledgement.afterCommit!({ persist: ack, counter: ack }, 'tx-1');
  assert.deepEqual(gateway.upstreams.counter.calls('queryCounters').map((call) => call.body.userIds), [['ada']]);
  assert.deepEqual(gateway.bus, [{ kind: 'counter', userId: 'ada', unread: 4 }]);
  assert.deepEqual(ada.pushed('counter'), [{ unread: 4 }]);
  assert.deepEqual(bob.pushes, []);
});

test('the whole path in one process: a publish frame ends as a push and an email, an ack frame as the new count; a mailer down is asked again', async (t) => {
  const gateway = await inProcessGateway(t, { database: true });
  const topic = topicOf(gateway, ['ada', 'bob']);
  const unread = new Map([
    ['ada', 1],
    ['bob', 1],
  ]);
  gateway.upstreams.counter.answer('queryCounters', ({ body }) => ({ counters: Object.fromEntries(body.userIds.map((userId) => [userId, unread.get(userId) ?? 0])) }));
  gateway.upstreams.persist.answer('recordEvents', ({ body }) => ({ recorded: body.events.length, skipped: 0 }));
  let mailerDown = 1;
  gateway.upstreams.mailer.answer('notificationEmails', ({ body }) => {
    if (mailerDown-- > 0) throw createError({ code: 'UNAVAILABLE', message: 'the mailer is restarting' });
    return { jobIds: body.recipients.map(() => randomUUID()), queued: body.recipients.length, duplicates: 0 };
  });
  const publisher = gateway.connect(PUBLISHER);
  const ada = gateway.connect('ada');
  const bob = gateway.connect('bob', { transport: 'socket.io' });

  const reply = (await handleFrame(gateway.dispatcher, publisher, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'notifications.publish', params: { topicId: topic.id, title: 'v2', body: 'out now', email: true } }))) as {
    result?: { notification: Notification; recipients: string[] };
  };
  assert.ok(reply.result, JSON.stringify(reply));
  assert.deepEqual(reply.result.recipients, ['ada', 'bob']);
  const { id } = reply.result.notification;
  for (const connection of [ada, bob]) {
    await until(() => connection.pushed('notification').length === 1, 'the push');
    assert.equal(connection.pushed('notification')[0]?.id, id);
  }
  assert.deepEqual(publisher.pushed('notification'), []);
  await until(() => ada.pushed('counter').length === 1, 'the count after the notification');
  assert.deepEqual(ada.pushed('counter'), [{ unread: 1 }]);

  // The follow-up is asked again until the mailer takes the emails; then the transaction is complete.
  await until(() => gateway.upstreams.mailer.calls('notificationEmails').length === 2, 'the mailer asked again');
  const [txId] = gateway.participants.inState('persist', 'committed');
  await until(async () => {
    const [row] = await gateway.sql!.$queryRawUnsafe<{ completed: boolean; name: string }[]>('SELECT completed_at IS NOT NULL AS completed, name FROM coordinator_transactions WHERE tx_id = $1', txId);
    return row?.completed === true && row.name === 'notification.publish';
  }, 'the transaction marked complete');
  assert.deepEqual(gateway.upstreams.mailer.calls('notificationEmails')[1]?.body.recipients, ['ada', 'bob']);

  unread.set('ada', 0);
  const acked = (await handleFrame(gateway.dispatcher, ada, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'notifications.ack', params: { notificationId: id } }))) as { result?: unknown };
  assert.deepEqual(acked.result, { ok: true, unread: 0 });
  await until(() => ada.pushed('counter').length === 2, 'the new count pushed');
  assert.deepEqual(ada.pushed('counter'), [{ unread: 1 }, { unread: 0 }]);
  const ackPrepares = gateway.participants.prepared.filter((item) => item.action === 'notification.ack');
  assert.deepEqual(
    ackPrepares.map((item) => [item.service, item.payload]),
    [
      ['persist', { notificationId: id, userId: 'ada', archive: false }],
      ['counter', { notificationId: id, userId: 'ada' }],
    ],
  );
});
