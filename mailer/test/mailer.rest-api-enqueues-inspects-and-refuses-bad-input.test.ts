// The REST API: enqueue is idempotent, jobs can be inspected, a permanent SMTP refusal is
// dead-lettered at once, bad input gets 400 and queues nothing, and a worker-only node serves no
// API but still sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_DISCOVERY_TOKEN } from '@notify/lib/testing';
import { metric, send, startMailers, welcomes } from './helper.ts';

interface JobView {
  id: string;
  queue: string;
  state: string;
  kind: string;
  key: string;
  retryCount: number;
  output: Record<string, unknown> | null;
}

test('enqueue, inspect, dead letters, bad input and a worker-only node', async (t) => {
  const { sink, nodes, startNode, discovery } = await startMailers(t, { env: { SEND_RETRY_LIMIT: '2' } });
  const [api] = nodes;
  const worker = await startNode({ ENABLE_REST_API: 'false' });

  await t.test('the same email enqueued twice is one job and one email', async () => {
    const [user] = welcomes(1, 'twice');
    const first = await send<{ jobId: string; queued: number; duplicates: number }>(api!, 'POST', '/api/emails/welcome', user);
    const second = await send<{ jobId: string; queued: number; duplicates: number }>(api!, 'POST', '/api/emails/welcome', user);
    assert.equal(first.status, 202);
    assert.deepEqual([first.body.queued, second.body.queued, second.body.duplicates], [1, 0, 1]);
    assert.equal(first.body.jobId, second.body.jobId);
    const [mail] = await sink.until((messages) => messages.some((m) => m.to[0] === user!.email));
    assert.equal(mail!.headers['x-idempotency-key'], 'welcome:twice-1');
    assert.match(mail!.subject, /Welcome to Notify, twice 1/);
    assert.match(mail!.text, /Hello twice 1,/);
    let job = (await send<JobView>(api!, 'GET', `/api/jobs/${first.body.jobId}`)).body;
    for (const deadline = Date.now() + 10_000; job.state !== 'completed'; job = (await send<JobView>(api!, 'GET', `/api/jobs/${first.body.jobId}`)).body) {
      assert.ok(Date.now() < deadline, `the job completed (state ${job.state})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(job.kind, 'welcome');
    assert.equal(job.output?.to, user!.email);
    assert.equal(job.output?.messageId, mail!.messageId);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(sink.messages().filter((m) => m.to[0] === user!.email).length, 1);
  });

  await t.test('a permanent refusal (550) is dead-lettered at once, without retries, and can be sent again', async () => {
    sink.refuseFor(60_000, 550);
    const [user] = welcomes(1, 'refused');
    const { body } = await send<{ jobId: string }>(api!, 'POST', '/api/emails/welcome', user);
    let dead: JobView[] = [];
    const deadline = Date.now() + 15_000;
    while (!dead.some((job) => job.key === 'welcome:refused-1')) {
      assert.ok(Date.now() < deadline, 'the refused email reached the dead letters');
      await new Promise((resolve) => setTimeout(resolve, 100));
      dead = (await send<{ jobs: JobView[] }>(api!, 'GET', '/api/jobs/dead')).body.jobs;
    }
    sink.refuseFor(0);
    const original = (await send<JobView>(api!, 'GET', `/api/jobs/${body.jobId}`)).body;
    assert.equal(original.state, 'failed');
    assert.equal(original.retryCount, 0, 'not retried');
    assert.match(String(original.output?.error), /550/);
    const deadOn = async (node: typeof api) => (await metric(node!, 'mailer_emails_dead_lettered_total', { kind: 'welcome' })) ?? 0;
    assert.equal((await deadOn(api)) + (await deadOn(worker)), 1);

    // Once the cause is fixed, an operator sends it again from the dead letters.
    const deadJob = dead.find((job) => job.key === 'welcome:refused-1')!;
    assert.equal((await send(api!, 'POST', '/api/jobs/dead/redrive', { ids: ['not-a-uuid'] })).status, 400);
    const redriven = await send<{ redriven: number }>(api!, 'POST', '/api/jobs/dead/redrive', { ids: [deadJob.id] });
    assert.deepEqual([redriven.status, redriven.body.redriven], [200, 1]);
    await sink.until((messages) => messages.some((m) => m.to[0] === user!.email));
    assert.equal((await send<{ jobs: JobView[] }>(api!, 'GET', '/api/jobs/dead')).body.jobs.filter((job) => job.key === 'welcome:refused-1').length, 0);
  });

  await t.test('bad input is 400 and queues nothing', async () => {
    const before = (await send<{ queues: { name: string; ready: number; completed: number; active: number; deferred: number; failed: number }[] }>(api!, 'GET', '/api/queues')).body.queues;
    const total = (queues: typeof before) => queues.reduce((sum, q) => sum + q.ready + q.completed + q.active + q.deferred + q.failed, 0);
    const bad: [string, unknown][] = [
      ['/api/emails/welcome', {}],
      ['/api/emails/welcome', { userId: 'u', email: 'not-an-address', name: 'U' }],
      ['/api/emails/welcome', { userId: 7, email: 'u@example.test', name: 'U' }],
      ['/api/emails/welcome', { userId: 'u', email: 'u@example.test', name: 'U', extra: true }],
      ['/api/emails/welcome', 'not json'],
      ['/api/emails/notification', { notificationId: 'n', topic: { id: 't', name: 'T' }, title: 'x', body: 'y', recipients: [] }],
      ['/api/emails/notification', { notificationId: 'n', topic: { id: 't' }, title: 'x', body: 'y', recipients: ['u'] }],
      ['/api/emails/notification', { notificationId: 'n', topic: { id: 't', name: 'T' }, title: '', body: 'y', recipients: ['u'] }],
      ['/api/emails/notification', { notificationId: 'n', topic: { id: 't', name: 'T' }, title: 'x', body: 'y'.repeat(10_001), recipients: ['u'] }],
    ];
    for (const [path, body] of bad) {
      const answer = await send<{ error: { code: string } }>(api!, 'POST', path, body);
      assert.equal(answer.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}`);
      assert.equal(answer.body.error.code, 'INVALID_ARGUMENT');
    }
    const huge = await fetch(`${api!.url}/api/emails/welcome`, { method: 'POST', headers: { 'content-type': 'application/json', ...api!.headers(undefined, 'auth') }, body: JSON.stringify({ pad: 'x'.repeat(2_000_000) }) });
    assert.equal(huge.status, 400, 'a body over BODY_LIMIT_BYTES is refused as bad input');
    assert.equal((await send(api!, 'GET', '/api/jobs/not-a-uuid')).status, 400);
    const unknown = await send<{ error: { code: string } }>(api!, 'GET', '/api/jobs/00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
    // A phishing welcome or notification from anyone but its real caller: refused before it is read.
    const phishing = { userId: 'victim', email: 'victim@example.test', name: 'Your account is locked: verify at http://phish.example/login' };
    const notification = { notificationId: 'n', topic: { id: 't', name: '[Security team]' }, title: 'Password reset required', body: 'y', recipients: ['u'] };
    for (const [path, body, as, status] of [
      ['/api/emails/welcome', phishing, null, 401],
      ['/api/emails/welcome', phishing, 'gateway', 403],
      ['/api/emails/welcome', phishing, 'persist', 403],
      ['/api/emails/notification', notification, null, 401],
      ['/api/emails/notification', notification, 'auth', 403],
    ] as const) {
      const answer = await send<{ error: { code: string } }>(api!, 'POST', path, body, as);
      assert.equal(answer.status, status, `${path} as ${as}`);
    }
    const forged = await fetch(`${api!.url}/api/emails/welcome`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-service-token': 'eyJpc3MiOiJhdXRoIn0.forged' }, body: JSON.stringify(phishing) });
    assert.equal(forged.status, 401);
    const after = (await send<{ queues: typeof before }>(api!, 'GET', '/api/queues')).body.queues;
    assert.equal(total(after), total(before), 'nothing queued');
  });

  await t.test('a worker-only node serves no API, registers as a worker, and sends', async () => {
    assert.equal((await send(worker, 'POST', '/api/emails/welcome', welcomes(1, 'w')[0])).status, 404);
    const tagged = async (tag: string) =>
      ((await (await fetch(`${discovery.url}/v1/health/service/mailer?passing&tag=${tag}`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as { Service: { ID: string } }[]).map((entry) => entry.Service.ID);
    assert.deepEqual(await tagged('api'), ['mailer-1']);
    assert.deepEqual(await tagged('worker'), ['mailer-2']);
    // A slow server keeps the first node's workers busy, so the worker-only node takes jobs too.
    sink.answerAfter(200);
    const many = welcomes(12, 'shared');
    for (const user of many) await send(api!, 'POST', '/api/emails/welcome', user);
    await sink.until((messages) => many.every((user) => messages.some((m) => m.to[0] === user.email)));
    sink.answerAfter(0);
    const byNode = new Set(sink.messages().filter((m) => m.to[0]!.startsWith('shared-')).map((m) => m.headers['x-mailer-node']));
    assert.deepEqual([...byNode].sort(), ['mailer-1', 'mailer-2']);
  });
});
