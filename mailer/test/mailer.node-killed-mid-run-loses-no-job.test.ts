// Four nodes share one queue; one is SIGKILLed while it holds jobs mid-send. Its jobs go to the
// others once its heartbeat lapses: every email arrives and every job completes; none is given up on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, send, startMailers, welcomes } from './helper.ts';

test('a mailer node killed mid-send loses no job: every email arrives', async (t) => {
  const { sink, nodes } = await startMailers(t, { nodes: 4, env: { MAX_CONCURRENT_SENDS: '2' } });
  // A slow server keeps jobs in hand long enough to kill a node holding some.
  sink.answerAfter(400);
  const users = welcomes(40);
  for (const user of users) assert.equal((await send(nodes[1]!, 'POST', '/api/emails/welcome', user)).status, 202);

  const victim = nodes[0]!;
  const deadline = Date.now() + 10_000;
  while (((await metric(victim, 'mailer_sends_in_flight')) ?? 0) === 0) {
    assert.ok(Date.now() < deadline, 'the node to kill never took a job');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const holding = await metric(victim, 'mailer_sends_in_flight');
  await victim.stop('SIGKILL');
  t.diagnostic(`killed ${victim.url} holding ${holding} job(s); ${sink.messages().length} of 40 had arrived`);
  assert.ok(sink.messages().length < users.length, 'the node was killed mid-run');

  const received = await sink.until((messages) => messages.length === users.length, 45_000);
  assert.deepEqual(new Set(received.map((mail) => mail.to[0])), new Set(users.map((user) => user.email)));
  // The killed node's jobs stay active until its heartbeat lapses, then another node finishes them.
  type Counts = { name: string; ready: number; active: number; deferred: number; completed: number };
  const recovery = Date.now() + 45_000;
  let email: Counts;
  for (;;) {
    const queues = await send<{ queues: Counts[] }>(nodes[1]!, 'GET', '/api/queues');
    email = queues.body.queues.find((q) => q.name === 'email')!;
    if (email.completed === users.length || Date.now() > recovery) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.deepEqual({ ready: email.ready, active: email.active, deferred: email.deferred, completed: email.completed }, { ready: 0, active: 0, deferred: 0, completed: users.length });
  assert.equal((await send<{ jobs: unknown[] }>(nodes[1]!, 'GET', '/api/jobs/dead')).body.jobs.length, 0);
  // A job the killed node had handed to the server may be sent again: the server drops the copy
  // by Message-ID, so each address still got one email.
  t.diagnostic(`copies dropped by Message-ID: ${sink.duplicates}`);
});
