// The email digest through the whole system: a user whose digest is on gets the first `threshold`
// notification emails of a window one by one and the rest as one digest at the window's end,
// listing each; a mailer node SIGKILLed mid-window loses nothing: the digest still arrives once,
// with every item.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReceivedMail } from '@notify/lib/testing';
import { register, socketIoClient, startSystem, withPg } from './helper.ts';

const THRESHOLD = 2;
/** 0.2 minute: a 12 s window. */
const WINDOW_MINUTES = 0.2;

test('past the threshold, a window’s emails come as one digest listing them all, even across a mailer SIGKILL', async (t) => {
  const system = await startSystem(t, { mailer: true });
  const mail = system.mail!;
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  await register(alice, 'Alice');
  const bobClient = await socketIoClient(gateway!, undefined, t);
  const bob = await register(bobClient, 'Bob');
  const bobEmail = bob.email.toLowerCase();
  const topic = await alice.call('topics.create', { name: `digest-${Date.now()}` });
  await bobClient.call('topics.subscribe', { topicId: topic.id });
  const set = await bobClient.call('preferences.set', { digest: { threshold: THRESHOLD, windowMinutes: WINDOW_MINUTES } });
  assert.deepEqual(set, { email: true, digest: { threshold: THRESHOLD, windowMinutes: WINDOW_MINUTES } });

  const toBob = (all: readonly ReceivedMail[]) => all.filter((m) => m.to[0] === bobEmail && !m.subject.startsWith('Welcome'));
  const digests = (all: readonly ReceivedMail[]) => toBob(all).filter((m) => m.subject.startsWith('Notify digest'));
  /** Emails held for a digest, in the mailer's database. */
  const held = () => withPg(mail.databaseUrl, async (client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM digest_decisions WHERE user_id = $1 AND window_id IS NOT NULL', [bob.id])).rows[0]!.n);
  const publish = async (title: string) => (await alice.call('notifications.publish', { topicId: topic.id, title, body: 'b', email: true })).notification.id;

  await t.test('the first emails of a window go out one by one; the rest come as one digest at its end', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 5; i += 1) ids.push(await publish(`first window ${i}`));
    const single = await mail.sink.until((all) => toBob(all).filter((m) => m.subject.includes('first window')).length === THRESHOLD, 20_000);
    assert.equal(toBob(single).filter((m) => m.subject.includes('first window')).length, THRESHOLD);
    const all = await mail.sink.until((got) => digests(got).length === 1, 40_000);
    const [digest] = digests(all);
    assert.match(digest!.subject, /3 notifications/);
    const listed = ids.filter((id) => digest!.text.includes(`?notification=${id}`));
    const sentAlone = toBob(all).filter((m) => m.subject.includes('first window') && !m.subject.startsWith('Notify digest'));
    assert.equal(listed.length + sentAlone.length, 5, 'each notification once: alone or in the digest');
    for (const alone of sentAlone) assert.ok(!listed.some((id) => alone.text.includes(id)), 'nothing both alone and in the digest');
    assert.match(digest!.headers['list-unsubscribe'] ?? '', /^<http:\/\/[^>]+\/api\/v1\/unsubscribe\?token=/, 'a digest carries the unsubscribe-from-all link');
  });

  await t.test('a mailer node SIGKILLed mid-window: the digest still arrives once, with every held email', async () => {
    const before = toBob(await mail.sink.messages()).length;
    const ids: string[] = [];
    for (let i = 1; i <= 5; i += 1) ids.push(await publish(`second window ${i}`));
    // Wait until the mailer held the three past the threshold (window 2 opened with the first of these).
    const heldBefore = 3;
    const deadline = Date.now() + 20_000;
    while ((await held()) < heldBefore + 3) {
      assert.ok(Date.now() < deadline, 'the mailer never held the emails past the threshold');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [node] = mail.nodes;
    await node!.stop('SIGKILL');
    t.diagnostic(`killed the mailer with ${toBob(await mail.sink.messages()).length - before} of bob’s second-window emails sent`);
    await mail.startNode();
    const all = await mail.sink.until((got) => digests(got).length === 2, 60_000);
    const digest = digests(all)[1]!;
    assert.match(digest.subject, /3 notifications/);
    const sentAlone = toBob(all).filter((m) => m.subject.includes('second window'));
    const listed = ids.filter((id) => digest.text.includes(`?notification=${id}`));
    assert.equal(listed.length, 3);
    assert.equal(sentAlone.length, THRESHOLD);
    assert.equal(listed.length + sentAlone.length, ids.length, 'every email of the window: alone or in the digest');
    // Exactly once: no second digest shows up (a copy by Message-ID would be dropped and counted).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal(digests(await mail.sink.messages()).length, 2);
    t.diagnostic(`copies dropped by Message-ID: ${await mail.sink.duplicates()}`);
  });
});
