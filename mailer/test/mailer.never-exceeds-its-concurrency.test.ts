// No node ever sends more emails at once than its MAX_CONCURRENT_SENDS, measured by each node
// (its in-flight peak) and by the SMTP server (messages in DATA at once across all nodes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, send, startMailers, welcomes } from './helper.ts';

test('each node stays within its MAX_CONCURRENT_SENDS while the queue is deep', async (t) => {
  const { sink, nodes, startNode } = await startMailers(t, { nodes: 1, env: { MAX_CONCURRENT_SENDS: '2' } });
  const wide = await startNode({ MAX_CONCURRENT_SENDS: '3' });
  sink.answerAfter(300);
  const users = welcomes(30);
  // All at once, so the queue is deep before the workers can empty it, even on a loaded machine.
  const answers = await Promise.all(users.map((user) => send(nodes[0]!, 'POST', '/api/emails/welcome', user)));
  assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([202]));
  await sink.until((messages) => messages.length === users.length, 30_000);

  const limits = [2, 3];
  for (const [index, node] of [nodes[0]!, wide].entries()) {
    const peak = await metric(node, 'mailer_sends_in_flight_peak');
    const limit = await metric(node, 'mailer_send_concurrency_limit');
    const sent = await metric(node, 'mailer_emails_sent_total', { kind: 'welcome' });
    t.diagnostic(`node ${index + 1}: limit ${limit}, peak ${peak}, sent ${sent}`);
    assert.equal(limit, limits[index]);
    // Reaching the limit shows the queue was deep enough to test it; above it is the failure.
    assert.equal(peak, limits[index], `node ${index + 1} peaked at its limit, never above`);
  }
  t.diagnostic(`the SMTP server saw at most ${sink.peakConcurrent} messages at once`);
  assert.ok(sink.peakConcurrent <= 5, 'the server never saw more than both limits together');
  assert.ok(sink.peakConcurrent >= 3, 'the nodes did send side by side');
});
