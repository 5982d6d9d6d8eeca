// A send that outlives SEND_EMAIL_TIMEOUT_MS fails and is retried. The server may still have taken
// the first attempt (an unclear answer): the retry carries the same Message-ID, so a server that
// remembers ids, as the sink does, keeps one email.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, send, startMailers, welcomes } from './helper.ts';

test('a send past SEND_EMAIL_TIMEOUT_MS is retried, and the server keeps one email per address', async (t) => {
  const { sink, nodes } = await startMailers(t, { env: { SEND_EMAIL_TIMEOUT_MS: '300' } });
  // The server answers after 800 ms: every first attempt gives up at 300 ms, yet the server keeps the message.
  sink.answerAfter(800);
  const users = welcomes(3, 'slow');
  for (const user of users) assert.equal((await send(nodes[0]!, 'POST', '/api/emails/welcome', user)).status, 202);
  await sink.until((messages) => messages.length === users.length, 15_000);
  sink.answerAfter(0);

  // The retries (Message-IDs the server already has) are accepted and dropped; every job completes.
  const deadline = Date.now() + 20_000;
  let completed = 0;
  while (completed < users.length) {
    assert.ok(Date.now() < deadline, `only ${completed} of ${users.length} jobs completed`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { body } = await send<{ queues: { name: string; completed: number }[] }>(nodes[0]!, 'GET', '/api/queues');
    completed = body.queues.find((q) => q.name === 'email')!.completed;
  }
  const timedOut = (await metric(nodes[0]!, 'mailer_emails_failed_total', { kind: 'welcome', reason: 'smtp' })) ?? 0;
  t.diagnostic(`${timedOut} attempt(s) timed out; the server dropped ${sink.duplicates} repeated Message-ID(s)`);
  assert.ok(timedOut >= users.length, 'each first attempt timed out');
  assert.ok(sink.duplicates >= 1, 'retries reached the server and were recognised');
  assert.equal(sink.messages().length, users.length, 'one email per address');
  const slowest = await metric(nodes[0]!, 'mailer_send_duration_seconds_count', { outcome: 'failed' });
  assert.ok((slowest ?? 0) >= users.length);
});
