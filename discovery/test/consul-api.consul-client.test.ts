// Discovery as a real child process, driven by the unmodified `consul` npm client and plain fetch:
// registration, TTL expiry and reaping, blocking queries, bad input, consul.watch, graceful close.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';
import type { AgentService, CatalogService, ServiceEntry } from '../src/registry/consul-types.ts';
import { TEST_DISCOVERY_TOKEN } from '@notify/lib/testing';
import { eventually, includeResponse, startDiscovery, type RunningDiscovery } from './helper.ts';

/** The management token every test discovery has (spawnService gives it). */
const TOKEN = { 'x-consul-token': TEST_DISCOVERY_TOKEN };

type RegisterOptions = Exclude<Parameters<Consul['agent']['service']['register']>[0], string>;
type HealthOptions = Exclude<Parameters<Consul['health']['service']>[0], string>;

/** The client's typings lag its API (checks demand `timeout`; index/wait/ctx are missing): cast once here. */
const registration = (options: Record<string, unknown>) => options as unknown as RegisterOptions;

interface Read<T> {
  index: string;
  body: T;
}

/** consul.health.service with the response, to read X-Consul-Index as the client's own Watch does. */
async function healthService(
  consul: Consul,
  options: { service: string; passing?: boolean; index?: string; wait?: string },
): Promise<Read<ServiceEntry[]>> {
  const result = await consul.health.service({ ...options, ctx: includeResponse() } as unknown as HealthOptions);
  const [response, body] = result as unknown as [IncomingMessage, ServiceEntry[]];
  return { index: String(response.headers['x-consul-index']), body };
}

async function getJson<T>(url: string): Promise<Read<T> & { status: number }> {
  const response = await fetch(url, { headers: TOKEN });
  return { status: response.status, index: response.headers.get('x-consul-index') ?? '', body: (await response.json()) as T };
}

const ids = (entries: ServiceEntry[]) => entries.map((e) => e.Service.ID);

describe('discovery as a child process, through the consul client', () => {
  let discovery: RunningDiscovery;
  let consul: Consul;

  before(async () => {
    discovery = await startDiscovery({ DATACENTER: 'dc-test', NODE_NAME: 'node-test' });
    consul = new Consul({ host: '127.0.0.1', port: discovery.port, defaults: { token: TEST_DISCOVERY_TOKEN } });
  });

  after(async () => {
    consul?.destroy();
    if (discovery) assert.equal(await discovery.stop(), 0, `discovery did not exit cleanly:\n${discovery.output()}`);
  });

  /** The registry's view without discovery's own entry (it lists itself, as Consul lists "consul"). */
  const withoutSelf = (services: Record<string, AgentService>) =>
    Object.fromEntries(Object.entries(services).filter(([, service]) => service.Service !== 'discovery'));

  test('lists itself as service "discovery", passing its own HTTP check on /health', async () => {
    const entries = (await consul.health.service({ service: 'discovery', passing: true })) as {
      Service: { Port: number; Tags: string[] };
      Checks: { Type: string; Status: string }[];
    }[];
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.Service.Port, discovery.port);
    assert.deepEqual(entries[0]!.Service.Tags, ['registry']);
    assert.ok(entries[0]!.Checks.some((check) => check.Type === 'http' && check.Status === 'passing'));
  });

  test('answers /v1/status/leader, /v1/status/peers and /v1/agent/self as Prometheus needs', async () => {
    assert.equal(await consul.status.leader(), '127.0.0.1:8300');
    assert.deepEqual(await consul.status.peers(), ['127.0.0.1:8300']);
    const self = (await consul.agent.self()) as { Config: { Datacenter: string; NodeName: string } };
    assert.equal(self.Config.Datacenter, 'dc-test');
    assert.equal(self.Config.NodeName, 'node-test');
    // Go's client (Prometheus) decodes /agent/self as map[string]map[string]interface{}.
    const raw = (await getJson<Record<string, unknown>>(`${discovery.baseUrl}/v1/agent/self`)).body;
    for (const [key, value] of Object.entries(raw)) {
      assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${key} must be an object`);
    }
  });

  test('registers, updates checks and deregisters through the client, with Consul shapes', async () => {
    await consul.agent.service.register(
      registration({
        name: 'api',
        id: 'api-1',
        address: '127.0.0.1',
        port: 4100,
        tags: ['v1'],
        meta: { version: '1.2.3' },
        check: { ttl: '10s', deregistercriticalserviceafter: '1m' },
      }),
    );

    const services = withoutSelf((await consul.agent.service.list()) as Record<string, AgentService>);
    assert.deepEqual(Object.keys(services), ['api-1']);
    assert.equal(services['api-1']!.Service, 'api');
    assert.equal(services['api-1']!.Port, 4100);
    assert.deepEqual(services['api-1']!.Tags, ['v1']);
    assert.deepEqual(services['api-1']!.Meta, { version: '1.2.3' });
    assert.deepEqual(await consul.catalog.service.list(), { api: ['v1'], discovery: ['registry'] });

    const [node] = (await consul.catalog.service.nodes('api')) as CatalogService[];
    assert.ok(node);
    assert.equal(node.Node, 'node-test');
    assert.equal(node.Datacenter, 'dc-test');
    assert.equal(node.ServiceID, 'api-1');
    assert.equal(node.ServiceName, 'api');
    assert.equal(node.ServiceAddress, '127.0.0.1');
    assert.equal(node.ServicePort, 4100);
    assert.deepEqual(node.ServiceMeta, { version: '1.2.3' });
    assert.ok(Number.isInteger(node.CreateIndex) && node.ModifyIndex >= node.CreateIndex);

    assert.deepEqual(ids((await healthService(consul, { service: 'api', passing: true })).body), [], 'a new TTL check starts critical');
    await consul.agent.check.pass({ id: 'service:api-1', note: 'serving' });
    const [entry] = (await healthService(consul, { service: 'api', passing: true })).body;
    assert.ok(entry);
    assert.equal(entry.Service.ID, 'api-1');
    assert.equal(entry.Node.Node, 'node-test');
    assert.deepEqual(
      entry.Checks.map((c) => [c.CheckID, c.Status, c.Output]),
      [
        ['service:api-1', 'passing', 'serving'],
        ['serfHealth', 'passing', 'Agent alive and reachable'],
      ],
    );

    await consul.agent.check.warn({ id: 'service:api-1', note: 'slow' });
    assert.deepEqual(ids((await healthService(consul, { service: 'api', passing: true })).body), [], 'warning is not passing');
    const update = await fetch(`${discovery.baseUrl}/v1/agent/check/update/service:api-1`, {
      method: 'PUT',
      body: JSON.stringify({ Status: 'passing', Output: 'recovered' }),
      headers: TOKEN,
    });
    assert.equal(update.status, 200);
    const checks = (await consul.agent.check.list()) as Record<string, { Status: string; Output: string }>;
    assert.deepEqual([checks['service:api-1']!.Status, checks['service:api-1']!.Output], ['passing', 'recovered']);
    await consul.agent.check.fail({ id: 'service:api-1' });
    assert.deepEqual(ids((await healthService(consul, { service: 'api' })).body), ['api-1'], 'critical, still listed');
    assert.deepEqual(ids((await healthService(consul, { service: 'api', passing: true })).body), []);

    await consul.agent.service.deregister('api-1');
    assert.deepEqual(withoutSelf(await consul.agent.service.list()), {});
    assert.deepEqual(await consul.catalog.service.list(), { discovery: ['registry'] });
    await assert.rejects(consul.agent.service.deregister('api-1'), (error: { statusCode?: number }) => error.statusCode === 404);
    await assert.rejects(consul.agent.check.pass('service:api-1'), (error: { statusCode?: number }) => error.statusCode === 404);
    const unknown = await fetch(`${discovery.baseUrl}/v1/agent/service/deregister/nope`, { method: 'PUT', headers: TOKEN });
    assert.equal(unknown.status, 404);
    assert.equal(await unknown.text(), 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.');
  });

  test('an instance whose TTL lapses leaves passing within its TTL and is reaped after DeregisterCriticalServiceAfter', async () => {
    await consul.agent.service.register(
      registration({ name: 'ttl', id: 'ttl-1', port: 1, check: { ttl: '500ms', deregistercriticalserviceafter: '1s' } }),
    );
    // The server takes the pass somewhere between sending it and hearing back: lower bounds are
    // measured from the send, upper bounds from the answer, so a slow answer cannot fail either.
    const sentAt = performance.now();
    await consul.agent.check.pass('service:ttl-1');
    const passedAt = performance.now();
    assert.deepEqual(ids((await healthService(consul, { service: 'ttl', passing: true })).body), ['ttl-1']);

    await eventually(async () => (await healthService(consul, { service: 'ttl', passing: true })).body.length === 0, 2_000, 'TTL lapse');
    const leftAt = performance.now();
    assert.ok(leftAt - sentAt >= 480 && leftAt - passedAt < 800, `left passing ${(leftAt - passedAt).toFixed(0)}-${(leftAt - sentAt).toFixed(0)} ms after the last pass (TTL 500 ms)`);
    const [critical] = (await healthService(consul, { service: 'ttl' })).body;
    assert.equal(critical?.Checks[0]?.Status, 'critical');
    assert.equal(critical?.Checks[0]?.Output, 'TTL expired');

    await eventually(async () => !('ttl-1' in ((await consul.agent.service.list()) as object)), 3_000, 'reaping');
    const reapedAt = performance.now();
    // Critical at the pass + 500 ms; reaped 1 s after that.
    const [earliest, latest] = [reapedAt - (passedAt + 500), reapedAt - (sentAt + 500)];
    assert.ok(latest >= 950 && earliest < 1_500, `reaped ${earliest.toFixed(0)}-${latest.toFixed(0)} ms after turning critical (1 s)`);
    assert.deepEqual((await healthService(consul, { service: 'ttl' })).body, []);
  });

  test('a blocking health query returns within 200 ms of a change, and at `wait` otherwise', async () => {
    const first = await healthService(consul, { service: 'blk', passing: true });
    assert.deepEqual(first.body, []);
    assert.match(first.index, /^[1-9]\d*$/);

    // Nothing changes: answered at `wait` (1 s, plus Consul's jitter of up to wait/16) with the same index.
    let started = performance.now();
    const idle = await healthService(consul, { service: 'blk', passing: true, index: first.index, wait: '1s' });
    let elapsed = performance.now() - started;
    assert.ok(elapsed >= 950 && elapsed < 1_300, `idle blocking query answered after ${elapsed.toFixed(0)} ms`);
    assert.equal(idle.index, first.index);

    // A change: answered as soon as it happens, with a higher index and the new instance.
    const pending = healthService(consul, { service: 'blk', passing: true, index: first.index, wait: '5s' });
    await sleep(300);
    const changedAt = performance.now();
    await consul.agent.service.register(registration({ name: 'blk', id: 'blk-1', port: 2, check: { ttl: '10s', status: 'passing' } }));
    const changed = await pending;
    elapsed = performance.now() - changedAt;
    assert.ok(elapsed < 200, `blocking query answered ${elapsed.toFixed(0)} ms after the change`);
    assert.ok(BigInt(changed.index) > BigInt(first.index));
    assert.deepEqual(ids(changed.body), ['blk-1']);

    // Heartbeats that leave the status as it was must not wake watchers (or they would spin).
    started = performance.now();
    const quiet = healthService(consul, { service: 'blk', passing: true, index: changed.index, wait: '1s' });
    for (let i = 0; i < 5; i++) {
      await consul.agent.check.pass('service:blk-1');
      await sleep(100);
    }
    const afterBeats = await quiet;
    elapsed = performance.now() - started;
    assert.ok(elapsed >= 950, `heartbeats woke the blocking query after ${elapsed.toFixed(0)} ms`);
    assert.equal(afterBeats.index, changed.index);

    // An index from before a registry restart (higher than ours) is answered at once.
    started = performance.now();
    const ahead = await healthService(consul, { service: 'blk', index: String(BigInt(changed.index) + 1000n), wait: '5s' });
    assert.ok(performance.now() - started < 200);
    assert.equal(ahead.index, changed.index);

    // The catalog blocks the same way, on its own index.
    const catalog = await getJson<Record<string, string[]>>(`${discovery.baseUrl}/v1/catalog/services`);
    const catalogPending = getJson<Record<string, string[]>>(`${discovery.baseUrl}/v1/catalog/services?index=${catalog.index}&wait=5s`);
    await sleep(100);
    const catalogChangedAt = performance.now();
    await consul.agent.service.deregister('blk-1');
    const catalogChanged = await catalogPending;
    assert.ok(performance.now() - catalogChangedAt < 200);
    assert.ok(!('blk' in catalogChanged.body));
    assert.ok(BigInt(catalogChanged.index) > BigInt(catalog.index));
  });

  test('malformed registrations get 400 with a text message and change nothing', async () => {
    await consul.agent.service.register(registration({ name: 'keep', id: 'keep-1', port: 3, check: { ttl: '30s' } }));
    const before = await getJson<Record<string, AgentService>>(`${discovery.baseUrl}/v1/agent/services`);
    assert.ok('keep-1' in before.body);

    const bodies: [string, string | RegExp][] = [
      ['', 'Request decode failed: EOF'],
      ['{"Name": "x",', /^Request decode failed: /],
      ['["x"]', /^Request decode failed: json: cannot unmarshal array/],
      ['{"Port": 80}', 'Missing service name'],
      ['{"Name": 7}', /^Request decode failed: Name: /],
      ['{"Name": "x", "Port": "80"}', /^Request decode failed: Port: /],
      ['{"Name": "x", "Port": -1}', /^Request decode failed: Port: /],
      ['{"Name": "x", "Port": 80.5}', /^Request decode failed: Port: /],
      ['{"Name": "x", "Tags": "a"}', /^Request decode failed: Tags: /],
      ['{"Name": "x", "Check": {"TTL": "ten seconds"}}', 'Request decode failed: Check.TTL: time: invalid duration "ten seconds"'],
      ['{"Name": "x", "Check": {"TTL": "0s"}}', 'Invalid check: TTL must be > 0 for TTL checks'],
      ['{"Name": "x", "Check": {"TTL": "5s", "HTTP": "http://127.0.0.1:1/", "Interval": "1s"}}', 'Invalid check: Interval and TTL cannot both be specified'],
      ['{"Name": "x", "Check": {"TTL": "5s", "HTTP": "http://127.0.0.1:1/"}}', /^Invalid check: Interval must be > 0/],
      ['{"Name": "x", "Check": {"TTL": "5s", "Status": "ok"}}', "Status for checks must 'passing', 'warning', 'critical'"],
      // Same id as the registered instance: a bad body must not replace it either.
      ['{"ID": "keep-1", "Name": "keep", "Port": 99999}', /^Request decode failed: Port: /],
      // Longer than a Node timer can hold (2^31-1 ms): refused rather than firing at once.
      ['{"ID": "keep-1", "Name": "keep", "Check": {"TTL": "720h"}}', 'Invalid check: TTL must be <= 596h31m23.647s'],
      [
        '{"ID": "keep-1", "Name": "keep", "Check": {"TTL": "30s", "DeregisterCriticalServiceAfter": "720h"}}',
        'Invalid check: DeregisterCriticalServiceAfter must be <= 596h31m23.647s',
      ],
      [JSON.stringify({ Name: 'big', Tags: ['x'.repeat(1024 * 1024)] }), /^Request decode failed: body larger than 1048576 bytes$/],
    ];
    for (const [body, expected] of bodies) {
      const response = await fetch(`${discovery.baseUrl}/v1/agent/service/register`, { method: 'PUT', body, headers: TOKEN });
      const text = await response.text();
      assert.equal(response.status, 400, `${body.slice(0, 60)} → ${response.status} ${text}`);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      if (typeof expected === 'string') assert.equal(text, expected);
      else assert.match(text, expected);
    }
    await assert.rejects(
      consul.agent.service.register(registration({ name: 'bad', port: -5, check: { ttl: '5s' } })),
      (error: { statusCode?: number }) => error.statusCode === 400,
    );

    const afterwards = await getJson<Record<string, AgentService>>(`${discovery.baseUrl}/v1/agent/services`);
    assert.deepEqual(afterwards.body, before.body);
    assert.equal(afterwards.index, before.index, 'no index moved');

    const badReads: [string, string][] = [
      ['/v1/health/service/keep?index=1&wait=soon', 'Invalid wait time'],
      ['/v1/health/service/keep?index=abc', 'Invalid index'],
      ['/v1/health/service/keep?passing=maybe', 'Invalid value for ?passing'],
      ['/v1/agent/check/update/service:keep-1', "Invalid check status: ''"],
    ];
    for (const [path, message] of badReads) {
      const method = path.includes('/check/update/') ? 'PUT' : 'GET';
      const response = await fetch(`${discovery.baseUrl}${path}`, { method, headers: TOKEN });
      assert.equal(response.status, 400, path);
      assert.equal(await response.text(), message);
    }
    await consul.agent.service.deregister('keep-1');
  });

  test('consul.watch sees an instance come, fail, recover and go', async () => {
    const seen: string[][] = [];
    const errors: unknown[] = [];
    const watch = consul.watch({
      method: consul.health.service,
      options: { service: 'watched', passing: 'true', wait: '5s' },
    });
    watch.on('change', (data: ServiceEntry[]) => seen.push(ids(data)));
    watch.on('error', (error: unknown) => errors.push(error));
    try {
      const last = () => JSON.stringify(seen.at(-1));
      await eventually(() => seen.length === 1, 2_000, 'the first answer');
      assert.deepEqual(seen[0], []);

      await consul.agent.service.register(registration({ name: 'watched', id: 'w-1', port: 5, check: { ttl: '10s', status: 'passing' } }));
      await eventually(() => last() === '["w-1"]', 500, 'the registration');
      await consul.agent.check.fail('service:w-1');
      await eventually(() => last() === '[]', 500, 'the failure');
      await consul.agent.check.pass('service:w-1');
      await eventually(() => last() === '["w-1"]', 500, 'the recovery');
      await consul.agent.service.deregister('w-1');
      await eventually(() => last() === '[]', 500, 'the deregistration');
      assert.deepEqual(seen, [[], ['w-1'], [], ['w-1'], []]);
      assert.deepEqual(errors, []);
    } finally {
      watch.end();
    }
  });
});

test('SIGTERM answers blocked reads at once and exits 0', async () => {
  const discovery = await startDiscovery();
  try {
    const first = await getJson<unknown[]>(`${discovery.baseUrl}/v1/health/service/anything`);
    const blocked = fetch(`${discovery.baseUrl}/v1/health/service/anything?index=${first.index}&wait=60s`, { headers: TOKEN });
    await sleep(200);
    const started = performance.now();
    const exitCode = await discovery.stop('SIGTERM');
    const response = await blocked;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), []);
    assert.equal(exitCode, 0, discovery.output());
    assert.ok(performance.now() - started < 3_000, 'closed without waiting for the 60 s query');
  } finally {
    await discovery.stop('SIGKILL');
  }
});
