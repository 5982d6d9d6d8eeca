// The kit's upstream client against real instances found through a real discovery process:
// round-robin, a breaker per instance that opens on the instance's failures (not on answers caused
// by one request) and closes after a good trial, retries on another instance only for retryable
// failures of calls safe to repeat, deadlines, refusals passed through, and instances on ports
// `fetch` refuses.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { createError, LOAD_SHED } from '../lib/src/errors.ts';
import { UpstreamClient } from '../lib/src/balancing/upstream-client.ts';
import { createService, type Service } from '../lib/src/service/create-service.ts';
import { spawnService } from '../lib/src/testing/service-process.ts';
import { freeBadPort } from '../lib/src/testing/bad-port.ts';
import { testConfig } from '../lib/test/helper.ts';

/**
 * An in-process instance of "target" whose behaviour the test switches: `fail` answers 503 (the
 * instance cannot serve), `bug` 500 (one request went wrong), `slow` takes 500 ms, `shed` answers
 * 503 and `shed-late` 504 as a busy instance does when its queue is full or a wait ran out,
 * `final` a 503 marked not retryable, `flaky` a 500 marked retryable.
 */
async function instance(t: TestContext, discoveryUrl: string, id: string, port = 0) {
  const control = { mode: 'ok' as 'ok' | 'fail' | 'bug' | 'slow' | 'shed' | 'shed-late' | 'final' | 'flaky', hits: 0 };
  const service = createService({
    name: 'target',
    defaultCallers: ['caller'],
    config: testConfig({ DISCOVERY_URL: discoveryUrl, DISCOVERY_REGISTER: 'true', INSTANCE_ID: id, DRAIN_DELAY_MS: '0', LOG_LEVEL: 'silent', PORT: String(port) }),
  });
  service.app.get('/work', async () => {
    control.hits += 1;
    if (control.mode === 'fail') throw createError({ code: 'UNAVAILABLE', message: 'cannot serve now' });
    if (control.mode === 'bug') throw new Error('broken on purpose');
    if (control.mode === 'shed') throw createError({ code: 'UNAVAILABLE', message: 'queue full', details: { retryAfterSeconds: 1, reason: LOAD_SHED } });
    if (control.mode === 'shed-late') throw createError({ code: 'TIMEOUT', message: 'waited too long', details: { reason: LOAD_SHED } });
    if (control.mode === 'final') throw createError({ code: 'UNAVAILABLE', message: 'no instance can serve this', retryable: false });
    if (control.mode === 'flaky') throw createError({ code: 'INTERNAL', message: 'went wrong this once', retryable: true });
    if (control.mode === 'slow') await sleep(500);
    return { id };
  });
  service.app.get('/missing', async () => {
    control.hits += 1;
    throw createError({ code: 'NOT_FOUND', message: 'no such thing', details: { id } });
  });
  await service.listen();
  t.after(() => service.close());
  return { service, control };
}

async function caller(t: TestContext, discoveryUrl: string, expected: number, resetTimeoutMs = 500, volumeThreshold = 3): Promise<{ client: UpstreamClient; service: Service }> {
  const service = createService({ name: 'caller', config: testConfig({ DISCOVERY_URL: discoveryUrl, LOG_LEVEL: 'silent' }) });
  t.after(() => service.close());
  const upstream = service.upstream('target');
  await upstream.watcher.until((list) => list.length === expected);
  const client = new UpstreamClient(upstream, {
    identity: service.identity,
    breaker: { resetTimeoutMs, volumeThreshold, errorThresholdPercentage: 50 },
    metrics: service.metrics,
    log: service.log,
  });
  t.after(() => client.close());
  return { client, service };
}

async function until(condition: () => boolean, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, what);
    await sleep(20);
  }
}

const work = { method: 'GET', path: '/work', deadlineMs: 2_000, idempotent: true };

test('breakers open on a failing instance, calls flow to the healthy one, and close after a good trial', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const a = await instance(t, discovery.url, 'target-a');
  const b = await instance(t, discovery.url, 'target-b');
  // The breaker stays open 5 s: long enough that the ten calls below, on a loaded machine, all
  // fall inside the open window (a shorter one let the half-open trial reach b, still failing).
  const { client, service } = await caller(t, discovery.url, 2, 5_000);

  const seen = new Set<string>();
  for (let i = 0; i < 4; i += 1) seen.add((await client.request<{ id: string }>(work)).body.id);
  assert.deepEqual([...seen].sort(), ['target-a', 'target-b'], 'round-robin over both');

  b.control.mode = 'fail';
  for (let i = 0; i < 20; i += 1) assert.equal((await client.request<{ id: string }>(work)).body.id, 'target-a', 'every idempotent call succeeds');
  assert.equal(client.states()['target-b'], 'open');
  const hitsWhileOpen = b.control.hits;
  for (let i = 0; i < 10; i += 1) await client.request(work);
  assert.equal(b.control.hits, hitsWhileOpen, 'an open breaker keeps calls away from its instance');
  assert.match(await service.metrics.metrics(), /^circuit_breaker_state\{target="target",instance="target-b",service="caller"\} 2$/m);

  b.control.mode = 'ok';
  await until(() => client.states()['target-b'] === 'half-open', 15_000, 'the breaker turns half-open after its reset time-out');
  const after = new Set<string>();
  for (let i = 0; i < 6; i += 1) after.add((await client.request<{ id: string }>(work)).body.id);
  assert.ok(after.has('target-b'), 'b serves again after a good trial');
  assert.equal(client.states()['target-b'], 'closed');
  void a;
});

test('a call not safe to repeat is tried once; refusals pass through untouched; deadlines hold; none left is UNAVAILABLE', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const only = await instance(t, discovery.url, 'target-only');
  const { client } = await caller(t, discovery.url, 1);

  only.control.mode = 'fail';
  await assert.rejects(client.request({ ...work, idempotent: false }), (error: { code: string }) => error.code === 'UNAVAILABLE');
  assert.equal(only.control.hits, 1, 'not repeated');

  only.control.mode = 'ok';
  await assert.rejects(client.request({ ...work, path: '/missing' }), (error: { code: string; details: { id: string } }) => error.code === 'NOT_FOUND' && error.details.id === 'target-only');
  assert.equal(client.states()['target-only'], 'closed', 'a refusal does not count against the instance');

  only.control.mode = 'slow';
  const started = Date.now();
  await assert.rejects(client.request({ ...work, deadlineMs: 100 }), (error: { code: string }) => error.code === 'TIMEOUT');
  assert.ok(Date.now() - started < 400, `the deadline held (${Date.now() - started} ms)`);

  only.control.mode = 'fail';
  for (let i = 0; i < 5; i += 1) await client.request(work).catch(() => undefined);
  assert.equal(client.states()['target-only'], 'open');
  const fast = Date.now();
  await assert.rejects(client.request(work), (error: { code: string }) => error.code === 'UNAVAILABLE');
  assert.ok(Date.now() - fast < 50, 'with every instance open the answer is immediate');
});

/** discovery and two echo instances (echo-1, echo-2; a 10 s TTL keeps a killed one listed), and a caller watching them. */
async function twoEchoes(t: TestContext) {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const env = { DISCOVERY_URL: discovery.url, HEALTH_TTL_MS: '10000' };
  const echoes = await Promise.all([1, 2].map((n) => spawnService({ entry: 'test/fixtures/echo-service.ts', env: { ...env, INSTANCE_ID: `echo-${n}` } }, t)));
  const service = createService({ name: 'caller', config: testConfig({ DISCOVERY_URL: discovery.url, LOG_LEVEL: 'silent' }) });
  t.after(() => service.close());
  const upstream = service.upstream('echo');
  await upstream.watcher.until((list) => list.length === 2);
  return { echoes, service, upstream };
}

test('an instance killed with SIGKILL has its breaker open within a second and calls flow to the rest', async (t) => {
  const { echoes, service, upstream } = await twoEchoes(t);
  const client = new UpstreamClient(upstream, { identity: service.identity, metrics: service.metrics, log: service.log });
  t.after(() => client.close());
  const whoami = { method: 'GET', path: '/whoami', deadlineMs: 1_000, idempotent: true };
  for (let i = 0; i < 4; i += 1) await client.request(whoami);

  await echoes[1]!.stop('SIGKILL');
  const killedAt = Date.now();
  let failures = 0;
  while (client.states()['echo-2'] !== 'open') {
    assert.ok(Date.now() - killedAt < 1_000, 'the breaker opened within a second');
    const answer = await client.request<{ id: string }>(whoami).catch(() => undefined);
    if (!answer) failures += 1;
  }
  t.diagnostic(`breaker open ${Date.now() - killedAt} ms after SIGKILL (discovery still lists it: TTL 10 s)`);
  assert.equal(failures, 0, 'no call failed: each was retried on the live instance');
  for (let i = 0; i < 10; i += 1) assert.equal((await client.request<{ id: string }>(whoami)).body.id, 'echo-1');
});

test('a call not safe to repeat still moves on when the instance never received it (connection refused)', async (t) => {
  const { echoes, service, upstream } = await twoEchoes(t);
  // A breaker that would need many failures to open: the retries below are the only protection.
  const client = new UpstreamClient(upstream, { identity: service.identity, metrics: service.metrics, log: service.log, breaker: { volumeThreshold: 1_000 } });
  t.after(() => client.close());
  const once = { method: 'GET', path: '/whoami', deadlineMs: 2_000, idempotent: false };
  await echoes[1]!.stop('SIGKILL'); // discovery lists it for 10 s more: calls keep being offered to it

  const answeredBy = [];
  for (let i = 0; i < 6; i += 1) answeredBy.push((await client.request<{ id: string }>(once)).body.id);
  assert.deepEqual(answeredBy, Array(6).fill('echo-1'), 'every call answered by the live instance');
  const retried = (await service.metrics.getSingleMetric('upstream_requests_total')!.get()).values.find((value) => value.labels.outcome === 'retried')?.value ?? 0;
  assert.ok(retried >= 3, `the dead instance’s turns were retried (${retried})`);
});

test('answers caused by one request (4xx, 500) never open a breaker: bad input cannot lock others out', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const only = await instance(t, discovery.url, 'target-only');
  const { client } = await caller(t, discovery.url, 1);

  only.control.mode = 'bug';
  for (let i = 0; i < 20; i += 1) {
    await assert.rejects(client.request(work), (error: { code: string }) => error.code === 'INTERNAL');
    await assert.rejects(client.request({ ...work, path: '/missing' }), (error: { code: string }) => error.code === 'NOT_FOUND');
  }
  assert.equal(only.control.hits, 40, 'each call reached the instance once: a 500 is not retried');
  assert.equal(client.states()['target-only'], 'closed', '40 answered errors, and the breaker stays closed');
  only.control.mode = 'ok';
  assert.equal((await client.request<{ id: string }>(work)).body.id, 'target-only', 'the next good call goes through');
});

test('an instance shedding load (503/504 marked OVERLOADED) keeps its breaker closed, and the caller hears the refusal', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const only = await instance(t, discovery.url, 'target-only');
  const { client, service } = await caller(t, discovery.url, 1);

  for (const [mode, code] of [['shed', 'UNAVAILABLE'], ['shed-late', 'TIMEOUT']] as const) {
    only.control.mode = mode;
    for (let i = 0; i < 20; i += 1) {
      await assert.rejects(client.request(work), (error: { code: string; details: { reason?: string } }) => error.code === code && error.details.reason === LOAD_SHED);
    }
  }
  assert.equal(only.control.hits, 40, 'each call reached the instance: none was kept away by an open breaker');
  assert.equal(client.states()['target-only'], 'closed', '40 shed answers, and the breaker stays closed');
  const shed = (await service.metrics.getSingleMetric('upstream_requests_total')!.get()).values.find((value) => value.labels.outcome === 'shed')?.value;
  assert.equal(shed, 40);
});

test('an answer’s own retryable decides: false keeps even an idempotent call where it was, true moves one on, and a call not safe to repeat is never repeated', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const a = await instance(t, discovery.url, 'target-a');
  const b = await instance(t, discovery.url, 'target-b');
  // A breaker that would need many failures to open: every turn of a's is really offered to it.
  const { client } = await caller(t, discovery.url, 2, 500, 1_000);

  /** Four calls: how many answered (all by b), how many failed, and what each instance saw meanwhile. */
  const round = async (call: typeof work) => {
    const before = { a: a.control.hits, b: b.control.hits };
    const failed: { code: string; retryable: boolean; details: { reason?: string } }[] = [];
    let answered = 0;
    for (let i = 0; i < 4; i += 1) {
      await client.request<{ id: string }>(call).then(
        (answer) => {
          assert.equal(answer.body.id, 'target-b');
          answered += 1;
        },
        (error: { code: string; retryable: boolean; details: { reason?: string } }) => failed.push(error),
      );
    }
    return { answered, failed, a: a.control.hits - before.a, b: b.control.hits - before.b };
  };

  // Not retryable (a 503 that says so), and a busy instance's shed (retryable, but not at once): each
  // of a's turns fails there, and b is not asked in its place.
  for (const mode of ['final', 'shed'] as const) {
    a.control.mode = mode;
    const seen = await round(work);
    assert.ok(seen.a >= 1, `${mode}: a had its turns (${seen.a})`);
    assert.equal(seen.failed.length, seen.a, `${mode}: every call a answered failed, none moved on to b`);
    assert.equal(seen.b, seen.answered, `${mode}: b saw only its own turns`);
    for (const error of seen.failed) {
      assert.equal(error.code, 'UNAVAILABLE');
      assert.equal(error.retryable, mode === 'shed', `${mode}: the caller hears the answer’s own retryable`);
    }
  }

  // A 500 marked retryable, on an idempotent call: a's turns move on to b, and every call succeeds.
  a.control.mode = 'flaky';
  const idempotent = await round(work);
  assert.ok(idempotent.a >= 1, `a had its turns (${idempotent.a})`);
  assert.deepEqual([idempotent.answered, idempotent.failed.length, idempotent.b], [4, 0, 4], 'each call a failed was answered by b');

  // The same answers on a call that is not idempotent: the request reached a, so it is never repeated.
  for (const mode of ['flaky', 'fail'] as const) {
    a.control.mode = mode;
    const once = await round({ ...work, idempotent: false });
    assert.ok(once.a >= 1, `${mode}: a had its turns (${once.a})`);
    assert.equal(once.failed.length, once.a, `${mode}: every call a answered failed, none was repeated on b`);
    assert.equal(once.b, once.answered);
    for (const error of once.failed) assert.equal(error.retryable, true, 'retryable, and still not repeated');
  }
});

test('an instance on a port fetch refuses (a Fetch "bad port", as persist\'s 6000 is) is called like any other', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const port = await freeBadPort();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/work`), 'fetch itself refuses the port');
  await instance(t, discovery.url, 'target-bad-port', port);
  const { client } = await caller(t, discovery.url, 1);
  for (let i = 0; i < 3; i += 1) assert.equal((await client.request<{ id: string }>(work)).body.id, 'target-bad-port');
  assert.equal(client.states()['target-bad-port'], 'closed');
});
