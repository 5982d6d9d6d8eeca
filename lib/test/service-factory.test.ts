// The service factory's endpoints and error model, against a real server on a free port.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { z } from 'zod';
import { createError } from '../src/errors.ts';
import type { ZodTypeProvider } from '../src/service/validation.ts';
import { createService } from '../src/service/create-service.ts';
import { LogSink, startService, testConfig } from './helper.ts';

test('health, status, metrics and dashboard answer while ready', async (t) => {
  const { url, service } = await startService(t);
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });

  const status = (await (await fetch(`${url}/status`)).json()) as Record<string, unknown>;
  assert.equal(status.service, 'sample');
  assert.equal(status.instanceId, service.instanceId);
  assert.equal(status.state, 'ready');
  assert.equal(typeof status.uptimeSeconds, 'number');
  assert.equal(typeof (status.memory as { rssBytes: number }).rssBytes, 'number');
  assert.equal(typeof (status.eventLoopLagMs as { p99: number }).p99, 'number');
  assert.equal(status.inFlightRequests, 1, 'the /status request itself is in flight');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^process_cpu_user_seconds_total\{service="sample"\} /m);
  assert.match(metrics, /^http_requests_total\{method="GET",route="\/health",status="200",service="sample"\} 1$/m);
  const statusCount = metrics.split('\n').find((line) => line.startsWith('http_request_duration_seconds_count{') && line.includes('route="/status"'));
  assert.ok(statusCount?.endsWith(' 1'), `one /status duration observed: ${statusCount}`);

  const dashboard = await fetch(`${url}/dashboard`);
  assert.match(dashboard.headers.get('content-type')!, /text\/html/);
  const html = await dashboard.text();
  assert.match(html, /<h1>sample<\/h1>/);
  assert.ok(html.includes(service.instanceId));
});

test('a required dependency that is down turns /health to 503 and shows in /status', async (t) => {
  let up = true;
  const { url } = await startService(t, {
    configure: (service) => {
      service.addDependency('database', () => ({ state: up ? 'up' : 'down', detail: up ? 'connected' : 'refused' }));
      service.addDependency('cache', () => {
        throw new Error('cache unreachable');
      }, { required: false });
    },
  });
  assert.equal((await fetch(`${url}/health`)).status, 200, 'an optional dependency down keeps the service healthy');
  up = false;
  // /health shares one look at the dependencies for a second: the change shows at the next look.
  let health = await fetch(`${url}/health`);
  for (const deadline = Date.now() + 30_000; health.status === 200 && Date.now() < deadline; health = await fetch(`${url}/health`)) {
    await health.arrayBuffer();
    await sleep(50);
  }
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { status: 'degraded', down: ['database'] });
  const status = (await (await fetch(`${url}/status`)).json()) as { dependencies: Record<string, unknown> };
  assert.deepEqual(status.dependencies, {
    database: { state: 'down', detail: 'refused', required: true },
    cache: { state: 'down', detail: 'cache unreachable', required: false },
  });
});

test('probes of /health share one look at the dependencies; /status always looks anew', async (t) => {
  let looks = 0;
  const { url } = await startService(t, {
    healthCheckReuseMs: 600_000,
    configure: (service) => service.addDependency('database', () => ((looks += 1), { state: 'up' })),
  });
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/health`)));
  assert.deepEqual(answers.map((answer) => answer.status), Array(20).fill(200));
  for (let i = 0; i < 5; i += 1) assert.equal((await fetch(`${url}/health`)).status, 200);
  assert.equal(looks, 1, '25 probes, one look');
  await (await fetch(`${url}/status`)).json();
  await (await fetch(`${url}/status`)).json();
  assert.equal(looks, 3, 'each /status looks');
});

test('errors take the contract shape: validation 400, unknown route 404, thrown AppError, crash 500, each saying whether it is retryable', async (t) => {
  const logs = new LogSink();
  const { url } = await startService(t, {
    config: testConfig({ BODY_LIMIT_BYTES: '2048', LOG_LEVEL: 'info' }),
    logStream: logs,
    configure: ({ app }) => {
      const typed = app.withTypeProvider<ZodTypeProvider>();
      typed.post('/things', { schema: { body: z.object({ name: z.string().min(1), count: z.number().int() }) } }, async (request) => ({
        echoed: `${request.body.name}×${request.body.count}`,
      }));
      app.get('/conflict', async () => {
        throw createError({ code: 'CONFLICT', message: 'already there', details: { id: 7 } });
      });
      app.get('/crash', async () => {
        throw new Error('secret internal detail');
      });
      app.get('/busy', async () => {
        throw createError({ code: 'UNAVAILABLE', message: 'try again', details: { retryAfterSeconds: 1 } });
      });
      app.get('/down-everywhere', async () => {
        throw createError({ code: 'UNAVAILABLE', message: 'no instance can serve this', retryable: false });
      });
      app.get('/try-again', async () => {
        throw createError({ code: 'CONFLICT', message: 'changed meanwhile', retryable: true });
      });
    },
  });
  const post = (body: string, type = 'application/json') =>
    fetch(`${url}/things`, { method: 'POST', headers: { 'content-type': type }, body });

  const ok = await post(JSON.stringify({ name: 'a', count: 2 }));
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { echoed: 'a×2' });

  for (const [label, response] of [
    ['wrong type', await post(JSON.stringify({ name: 'a', count: 'two' }))],
    ['missing field', await post(JSON.stringify({ count: 1 }))],
    ['not JSON', await post('{"name":')],
    ['too large', await post(JSON.stringify({ name: 'x'.repeat(4096), count: 1 }))],
    ['wrong content type', await post('name=a', 'application/x-www-form-urlencoded')],
  ] as const) {
    assert.equal(response.status, 400, label);
    const body = (await response.json()) as { error: { code: string; message: string; details: unknown; retryable: boolean } };
    assert.equal(body.error.code, 'INVALID_ARGUMENT', label);
    assert.equal(typeof body.error.message, 'string', label);
    assert.equal(body.error.retryable, false, label);
  }
  const wrongType = (await (await post(JSON.stringify({ name: 'a', count: 'two' }))).json()) as {
    error: { details: { issues: { path: string }[] } };
  };
  assert.deepEqual(wrongType.error.details.issues.map((issue) => issue.path), ['body.count']);

  const missing = await fetch(`${url}/nowhere`);
  assert.equal(missing.status, 404);
  assert.deepEqual(((await missing.json()) as { error: { code: string; retryable: boolean } }).error, { code: 'NOT_FOUND', message: 'no route GET /nowhere', details: {}, retryable: false });

  const conflict = await fetch(`${url}/conflict`);
  assert.equal(conflict.status, 409);
  assert.deepEqual(await conflict.json(), { error: { code: 'CONFLICT', message: 'already there', details: { id: 7 }, retryable: false } });

  const crash = await fetch(`${url}/crash`);
  assert.equal(crash.status, 500);
  assert.deepEqual(await crash.json(), { error: { code: 'INTERNAL', message: 'internal error', details: {}, retryable: false } });
  assert.ok(logs.lines.some((line) => line.level === 50 && JSON.stringify(line).includes('secret internal detail')), 'the crash is logged');

  // retryable: the code's default (UNAVAILABLE is), unless the error says otherwise either way.
  for (const [path, status, retryable] of [['/busy', 503, true], ['/down-everywhere', 503, false], ['/try-again', 409, true]] as const) {
    const answer = await fetch(`${url}${path}`);
    assert.equal(answer.status, status, path);
    assert.equal(((await answer.json()) as { error: { retryable: boolean } }).error.retryable, retryable, path);
  }
});

test('close drains an in-flight request, then refuses new connections and runs closers in reverse order', async (t) => {
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  const { url, service } = await startService(t, {
    configure: (service) => {
      service.app.get('/slow', async () => {
        arrive();
        await gate;
        return { done: true };
      });
      service.onClose(() => void order.push('pool'));
      service.onClose(() => void order.push('client'));
    },
  });
  const slow = fetch(`${url}/slow`);
  // Conditions, not fixed pauses: the request is in the handler before the close begins.
  await arrived;
  const closed = service.close('test');
  for (const deadline = Date.now() + 10_000; service.state === 'ready' && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(service.state, 'draining', 'the in-flight request holds the service in draining');
  release();
  const response = await slow;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { done: true });
  await closed;
  assert.equal(service.state, 'closed');
  assert.deepEqual(order, ['client', 'pool']);
  await assert.rejects(fetch(`${url}/health`), 'no longer accepting connections');
});

test('/health is 503 until the service listens', async (t) => {
  const service = createService({ name: 'early', config: testConfig() });
  t.after(() => service.close());
  const early = await service.app.inject({ method: 'GET', url: '/health' });
  assert.equal(early.statusCode, 503);
  assert.deepEqual(early.json(), { status: 'starting' });
  await service.listen();
  assert.equal((await service.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
});

test('requests the client abandons leave the in-flight count, and lag readings stay numbers', async (t) => {
  const { url, service } = await startService(t, {
    configure: ({ app }) => {
      app.get('/hang', async (request) => {
        await new Promise((resolve) => request.raw.once('close', resolve));
        return { late: true };
      });
    },
  });
  for (let i = 0; i < 3; i += 1) {
    const controller = new AbortController();
    const pending = fetch(`${url}/hang`, { signal: controller.signal }).catch(() => 'aborted');
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    assert.equal(await pending, 'aborted');
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const first = await service.status();
  const second = await service.status();
  assert.equal(first.inFlightRequests, 0, 'no abandoned request is still counted');
  for (const reading of [first.eventLoopLagMs, second.eventLoopLagMs]) {
    for (const value of Object.values(reading)) assert.ok(Number.isFinite(value), `lag ${JSON.stringify(reading)}`);
  }
});
