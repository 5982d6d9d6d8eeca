// Subscriber preferences through the whole system, with real pushes and real SMTP: a muted topic
// pushes nothing, counts nothing and mails nothing (the feed has it, read); an email opt-out (one
// topic's, or all) keeps the push and the badge and drops the email; the email names its
// notification and carries an RFC 8058 one-click unsubscribe link whose POST turns that topic's
// email off, while a forged or altered link is refused and changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { ReceivedMail } from '@notify/lib/testing';
import { jsonRpcClient, register, socketIoClient, startSystem, type Client } from './helper.ts';

/** A grace after the last expected email, for an unexpected one to show up (emails of one publication go out together). */
const GRACE_MS = 1_500;

test('mute, email opt-outs and one-click unsubscribe are honoured by pushes, unread counts and emails', async (t) => {
  const system = await startSystem(t, { mailer: true });
  const { sink } = system.mail!;
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  await register(alice, 'Alice');
  const users: { client: Client; id: string; email: string }[] = [];
  for (const name of ['Bob', 'Carol', 'Dave', 'Erin']) {
    const client = name === 'Carol' ? await jsonRpcClient(gateway!, undefined, t) : await socketIoClient(gateway!, undefined, t);
    const user = await register(client, name);
    users.push({ client, id: user.id, email: user.email.toLowerCase() });
  }
  const [bob, carol, dave, erin] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0]];
  const topic = await alice.call('topics.create', { name: `prefs-${Date.now()}` });
  for (const user of users) {
    const subscription = await user.client.call('topics.subscribe', { topicId: topic.id });
    assert.deepEqual({ muted: subscription.muted, email: subscription.email }, { muted: false, email: true }, 'a new subscription is unmuted, with email');
  }

  /** Publishes with email and waits for the emails `to` expect and the pushes the `pushed` expect. */
  const publish = async (title: string, expect: { emailed: (typeof users)[number][]; pushed: (typeof users)[number][] }) => {
    const { notification } = await alice.call('notifications.publish', { topicId: topic.id, title, body: 'details', email: true });
    await Promise.all(expect.pushed.map((user) => user.client.next('notification', (n) => n.id === notification.id)));
    const ofThis = (mail: readonly ReceivedMail[]) => mail.filter((m) => m.subject.endsWith(` ${title}`));
    await sink.until((mail) => expect.emailed.every((user) => ofThis(mail).some((m) => m.to[0] === user.email)), 20_000);
    await sleep(GRACE_MS);
    const mails = ofThis(await sink.messages());
    return { notification, mails, emailedTo: new Set(mails.map((m) => m.to[0])), pushedTo: new Set(users.filter((user) => user.client.pushes.some((p) => p.event === 'notification' && (p.data as { id: string }).id === notification.id)).map((user) => user.email)) };
  };

  await t.test('a muted topic: no push, no unread, no email; the feed has it, read and flagged muted', async () => {
    const muted = await bob.client.call('topics.preferences', { topicId: topic.id, muted: true });
    assert.deepEqual({ topicId: muted.topicId, muted: muted.muted, email: muted.email }, { topicId: topic.id, muted: true, email: true });
    const listed = await bob.client.call('topics.list', { subscribed: true });
    assert.deepEqual(listed.topics.find((item) => item.id === topic.id)?.subscription, { muted: true, email: true }, 'lists carry the preferences');

    const result = await publish('muted one', { emailed: [carol, dave, erin], pushed: [carol, dave, erin] });
    assert.deepEqual(result.emailedTo, new Set([carol.email, dave.email, erin.email]), 'bob is not emailed');
    assert.deepEqual(result.pushedTo, new Set([carol.email, dave.email, erin.email]), 'bob is not pushed to');
    assert.equal((await bob.client.call('counters.get')).unread, 0, 'no unread badge for bob');
    assert.equal((await carol.client.call('counters.get')).unread, 1);
    const [item] = (await bob.client.call('notifications.list', { topicId: topic.id })).notifications;
    assert.equal(item?.id, result.notification.id, 'still in bob’s feed');
    assert.equal(item?.read, true);
    assert.equal(item?.muted, true);
    assert.equal((await bob.client.call('notifications.list', { unreadOnly: true })).notifications.length, 0);
    await bob.client.call('topics.preferences', { topicId: topic.id, muted: false });
  });

  await t.test('an email opt-out for the topic: push and unread as usual, no email', async () => {
    await carol.client.call('topics.preferences', { topicId: topic.id, email: false });
    const result = await publish('topic opt-out', { emailed: [bob, dave, erin], pushed: [bob, carol, dave, erin] });
    assert.deepEqual(result.emailedTo, new Set([bob.email, dave.email, erin.email]), 'carol is not emailed');
    assert.ok(result.pushedTo.has(carol.email), 'carol is pushed to');
    assert.equal((await carol.client.call('counters.get')).unread, 2, 'and counted');
  });

  await t.test('an email opt-out for all email: push and unread as usual, no email', async () => {
    assert.deepEqual(await dave.client.call('preferences.get'), { email: true, digest: null }, 'the defaults');
    // The gateway's cached audience still has dave opted in: persist's check makes it read again.
    assert.deepEqual(await dave.client.call('preferences.set', { email: false }), { email: false, digest: null });
    const result = await publish('global opt-out', { emailed: [bob, erin], pushed: [bob, carol, dave, erin] });
    assert.deepEqual(result.emailedTo, new Set([bob.email, erin.email]), 'dave is not emailed');
    assert.ok(result.pushedTo.has(dave.email), 'dave is pushed to');
    assert.equal((await dave.client.call('counters.get')).unread, 3, 'counted as every publication before');
  });

  let unsubscribeUrl = '';
  await t.test('the email names its notification and carries a one-click unsubscribe link', async () => {
    const result = await publish('links', { emailed: [bob, erin], pushed: [bob, carol, dave, erin] });
    const mail = result.mails.find((m) => m.to[0] === erin.email)!;
    assert.ok(mail.text.includes(`/?notification=${result.notification.id}`), `the text links to the notification: ${mail.text}`);
    assert.ok(mail.html.includes(`?notification=${result.notification.id}`), 'so does the HTML');
    assert.equal(mail.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click');
    const header = mail.headers['list-unsubscribe'] ?? '';
    assert.match(header, /^<http:\/\/[^>]+\/api\/v1\/unsubscribe\?token=[^>]+>$/);
    unsubscribeUrl = header.slice(1, -1);
    assert.notEqual(result.mails.find((m) => m.to[0] === bob.email)!.headers['list-unsubscribe'], header, 'each recipient has their own link');
  });

  await t.test('a forged or altered token is refused and changes nothing', async () => {
    const url = new URL(unsubscribeUrl);
    const token = url.searchParams.get('token')!;
    const [payload, signature] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u: string };
    const otherUser = Buffer.from(JSON.stringify({ ...claims, u: bob.id })).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const [forged, status] of [
      [`${otherUser}.${signature}`, 403],
      [`${payload}.${flipped}`, 403],
      ['not-a-token', 400],
      [`${payload}`, 400],
    ] as const) {
      url.searchParams.set('token', forged);
      const answer = await request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(answer.statusCode, status, `${forged}: ${await answer.body.text()}`);
    }
    const stillOn = (await erin.client.call('topics.list', { subscribed: true })).topics.find((item) => item.id === topic.id)?.subscription;
    assert.deepEqual(stillOn, { muted: false, email: true });
    assert.deepEqual((await bob.client.call('topics.list', { subscribed: true })).topics.find((item) => item.id === topic.id)?.subscription, { muted: false, email: true });
  });

  await t.test('GET shows a confirmation page and changes nothing; the one-click POST turns the topic’s email off; the next publication still pushes', async () => {
    const page = await request(unsubscribeUrl);
    assert.equal(page.statusCode, 200);
    const html = await page.body.text();
    assert.match(html, /<form method="post"/);
    assert.deepEqual((await erin.client.call('topics.list', { subscribed: true })).topics.find((item) => item.id === topic.id)?.subscription, { muted: false, email: true }, 'a GET (a mail scanner) changes nothing');

    const answer = await request(unsubscribeUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(answer.statusCode, 200, await answer.body.text());
    assert.deepEqual((await erin.client.call('topics.list', { subscribed: true })).topics.find((item) => item.id === topic.id)?.subscription, { muted: false, email: false });

    const result = await publish('after unsubscribe', { emailed: [bob], pushed: [bob, carol, dave, erin] });
    assert.deepEqual(result.emailedTo, new Set([bob.email]), 'erin is no longer emailed');
    assert.ok(result.pushedTo.has(erin.email), 'erin still gets the push');
  });

  await t.test('preferences of a topic one does not follow: NOT_FOUND; bad params: INVALID_ARGUMENT', async () => {
    const other = await alice.call('topics.create', { name: `other-${Date.now()}` });
    await assert.rejects(bob.client.call('topics.preferences', { topicId: other.id, muted: true }), (error: { error: { code: string } }) => error.error.code === 'NOT_FOUND');
    await assert.rejects(bob.client.call('preferences.set', { digest: { threshold: 0, windowMinutes: 5 } }), (error: { error: { code: string } }) => error.error.code === 'INVALID_ARGUMENT');
  });
});
