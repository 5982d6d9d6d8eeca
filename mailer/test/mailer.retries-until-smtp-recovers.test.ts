// With the SMTP server refusing for a while, jobs retry with backoff and every email arrives once
// it recovers, each exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, send, startMailers, welcomes } from './helper.ts';

test('emails refused for 3 s are retried and all delivered, once each, after the server recovers', async (t) => {
  const { sink, nodes } = await startMailers(t, { nodes: 2 });
  sink.refuseFor(3_000);
  const users = welcomes(12);
  const started = Date.now();
  for (const user of users) assert.equal((await send(nodes[0]!, 'POST', '/api/emails/welcome', user)).status, 202);

  const received = await sink.until((messages) => messages.length === users.length, 30_000);
  const elapsed = Date.now() - started;
  t.diagnostic(`12 emails delivered ${elapsed} ms after enqueue; ${sink.refused} connections refused meanwhile`);
  assert.ok(sink.refused > 0, 'the server did refuse');
  assert.ok(elapsed >= 2_500, 'nothing got through while the server refused');
  assert.deepEqual(new Set(received.map((mail) => mail.to[0])), new Set(users.map((user) => user.email)));
  const retried = (await metric(nodes[0]!, 'mailer_emails_retried_total', { kind: 'welcome' })) ?? 0;
  const retried2 = (await metric(nodes[1]!, 'mailer_emails_retried_total', { kind: 'welcome' })) ?? 0;
  assert.ok(retried + retried2 > 0, 'the failed sends were retried');
  // Nothing arrives twice, and nothing was given up on.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(sink.messages().length, users.length);
  assert.equal(sink.duplicates, 0);
  const dead = await send<{ jobs: unknown[] }>(nodes[0]!, 'GET', '/api/jobs/dead');
  assert.deepEqual(dead.body.jobs, []);
});
