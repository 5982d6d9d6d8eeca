// Email through the whole system: a welcome email for each registration (kept in auth's outbox
// while the mailer is down, sent when it is back) and, for a publication with `email: true`, one
// email to each recipient after commit, recorded as `emailed` in the notification's trace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

test('welcome emails and notification emails reach a real SMTP server with the right recipients and content', async (t) => {
  const system = await startSystem(t, { mailer: true });
  const { sink } = system.mail!;
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  const a = await register(alice, 'Alice');
  const bob = await jsonRpcClient(gateway!, undefined, t);
  const b = await register(bob, 'Bob');
  const carol = await socketIoClient(gateway!, undefined, t);
  const c = await register(carol, 'Carol');
  // Auth keeps addresses lower-cased; that is where the mail goes.
  for (const user of [a, b, c]) user.email = user.email.toLowerCase();

  await t.test('each new user gets one welcome email, addressed to them', async () => {
    const welcomes = await sink.until((mail) => [a, b, c].every((user) => mail.some((m) => m.to[0] === user.email)));
    for (const [user, name] of [[a, 'Alice'], [b, 'Bob'], [c, 'Carol']] as const) {
      const [mail, ...more] = welcomes.filter((m) => m.to[0] === user.email);
      assert.equal(more.length, 0);
      assert.equal(mail!.subject, `Welcome to Notify, ${name}`);
      assert.match(mail!.text, new RegExp(`Hello ${name},`));
      assert.match(mail!.html, /<a href="http:\/\/localhost:3333"/);
      assert.equal(mail!.from, 'notify@localhost');
      assert.equal(mail!.headers['x-idempotency-key'], `welcome:${user.id}`);
    }
  });

  await t.test('a publication with email: true mails every recipient once, after commit; without it, nobody', async () => {
    const topic = await alice.call('topics.create', { name: `releases-${Date.now()}` });
    await bob.call('topics.subscribe', { topicId: topic.id });
    await carol.call('topics.subscribe', { topicId: topic.id });
    const quiet = await alice.call('notifications.publish', { topicId: topic.id, title: 'quiet one', body: 'no email for this' });
    const loud = await alice.call('notifications.publish', { topicId: topic.id, title: 'v2 <shipped>', body: 'Read the notes & upgrade.', email: true });
    assert.deepEqual(new Set(loud.recipients), new Set([b.id, c.id]));

    const mails = await sink.until((mail) => mail.filter((m) => m.subject.includes('v2 <shipped>')).length === 2);
    const sent = mails.filter((m) => m.subject.includes('v2 <shipped>'));
    assert.deepEqual(new Set(sent.map((m) => m.to[0])), new Set([b.email, c.email]));
    for (const mail of sent) {
      assert.equal(mail.subject, `[${topic.name}] v2 <shipped>`);
      assert.match(mail.text, /Read the notes & upgrade\./);
      // HTML is escaped: the title's brackets are text, not markup.
      assert.match(mail.html, /v2 &lt;shipped&gt;/);
      const recipient = mail.to[0] === b.email ? b : c;
      assert.equal(mail.headers['x-idempotency-key'], `notification:${loud.notification.id}:${recipient.id}`);
    }
    assert.match(sent.find((m) => m.to[0] === b.email)!.text, /Hello Bob,/);

    // The trace tells its publisher when each recipient was emailed.
    let events: { type: string; recipientId?: string | null }[] = [];
    for (let tries = 0; tries < 100 && events.filter((e) => e.type === 'emailed').length < 2; tries += 1) {
      await sleep(50);
      events = (await alice.call('notifications.trace', { notificationId: loud.notification.id })).events;
    }
    const emailed = events.filter((e) => e.type === 'emailed');
    assert.deepEqual(new Set(emailed.map((e) => e.recipientId)), new Set([b.id, c.id]));
    assert.ok(events.findIndex((e) => e.type === 'committed') < events.findIndex((e) => e.type === 'emailed'), 'emailed after committed');

    await sleep(500);
    assert.equal((await sink.messages()).filter((m) => m.subject.includes(quiet.notification.title)).length, 0, 'no email without email: true');
    assert.equal((await sink.messages()).filter((m) => m.to[0] === a.email && m.subject.startsWith('[')).length, 0, 'the publisher is not a recipient');
    assert.equal(await sink.duplicates(), 0);
  });

  await t.test('a registration while the mailer is down still gets its welcome email once the mailer is back', async () => {
    const [node] = system.mail!.nodes;
    await node!.stop();
    const dave = await jsonRpcClient(gateway!, undefined, t);
    const d = await register(dave, 'Dave');
    d.email = d.email.toLowerCase();
    await sleep(1_000);
    assert.equal((await sink.messages()).filter((m) => m.to[0] === d.email).length, 0, 'nothing could be sent meanwhile');
    await system.mail!.startNode();
    const [mail] = (await sink.until((all) => all.some((m) => m.to[0] === d.email), 15_000)).filter((m) => m.to[0] === d.email);
    assert.equal(mail!.subject, 'Welcome to Notify, Dave');
  });
});
