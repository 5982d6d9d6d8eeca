// The in-memory registry on its own, with real (short) timings: TTL expiry, reaping, indexes that
// move only on relevant changes, blocked reads woken by changes, and HTTP checks against a real server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeBadPort } from '@notify/lib/testing';
import { Registry, RegistryClosedError, type RegistryLogger } from '../src/registry/registry.ts';
import { parseServiceDefinition, type ServiceDefinition } from '../src/registry/service-definition.ts';

function definition(body: Record<string, unknown>): ServiceDefinition {
  const parsed = parseServiceDefinition(body);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

function newRegistry(t: TestContext): Registry {
  const registry = new Registry({ datacenter: 'dc1', nodeName: 'node-a', nodeAddress: '127.0.0.1' });
  t.after(() => registry.close());
  return registry;
}

const checkStatus = (registry: Registry, name: string, id: string) =>
  registry.healthService(name).find((e) => e.Service.ID === id)?.Checks.find((c) => c.ServiceID === id)?.Status;

/** Polls until `predicate` holds; fails after `timeoutMs`. Returns the elapsed ms. */
async function eventually(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - started;
}

test('indexes start from the clock, so they keep growing across restarts', (t) => {
  const before = Date.now();
  const registry = newRegistry(t);
  assert.ok(registry.catalogIndex() >= before);
  assert.ok(registry.serviceIndex('never-registered') >= before);
  registry.register(definition({ Name: 'api' }));
  assert.ok(registry.catalogIndex() > before);
});

test('a TTL check that is not refreshed turns critical within its TTL and leaves passing results', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Port: 1, Check: { TTL: '300ms' } }));
  assert.equal(checkStatus(registry, 'api', 'api-1'), 'critical', 'a new check starts critical');
  assert.equal(registry.healthService('api', { passing: true }).length, 0);

  assert.equal(registry.updateTtlCheck('service:api-1', 'passing', 'ok'), 'updated');
  const passedAt = performance.now();
  assert.deepEqual(
    registry.healthService('api', { passing: true }).map((e) => e.Service.ID),
    ['api-1'],
  );

  // Blocked on the service's index, the read must wake when the TTL lapses (a timer, not a lazy read).
  const index = registry.serviceIndex('api');
  const outcome = await registry.waitForIndex(() => registry.serviceIndex('api'), index, 2_000);
  const lapsedAfter = performance.now() - passedAt;
  // About the TTL after the pass. Node arms a timer from the event loop's cached clock, which a
  // busy machine leaves behind by the synchronous work of the current turn (CI: fired 279 ms after
  // a pass measured late), and runs timers late under load; a lazy read would instead have slept to
  // the wait's 2 s deadline and answered 'timeout'.
  assert.equal(outcome, 'changed');
  assert.ok(lapsedAfter >= 200 && lapsedAfter < 1_500, `lapsed after ${lapsedAfter.toFixed(0)} ms, TTL 300 ms`);
  assert.equal(registry.healthService('api', { passing: true }).length, 0);
  const check = registry.agentChecks()['service:api-1']!;
  assert.equal(check.Status, 'critical');
  assert.equal(check.Output, 'TTL expired (last output before timeout follows): ok');
  assert.equal(registry.healthService('api').length, 1, 'still listed without ?passing');
});

test('a service critical for DeregisterCriticalServiceAfter is reaped, honouring sub-minute values', async (t) => {
  const registry = newRegistry(t);
  // Measured from before the registration: noticing the critical state late (a busy machine) then
  // cannot make the reaping look early.
  const registeredAt = performance.now();
  registry.register(
    definition({ ID: 'api-1', Name: 'api', Check: { TTL: '200ms', DeregisterCriticalServiceAfter: '400ms', Status: 'passing' } }),
  );
  registry.register(definition({ ID: 'api-2', Name: 'api', Check: { TTL: '10s', Status: 'passing' } }));
  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'critical', 5_000, 'critical');
  const catalogBefore = registry.catalogIndex();
  await eventually(() => !('api-1' in registry.agentServices()), 5_000, 'reaping');
  const reapedAfter = performance.now() - registeredAt;
  // TTL 200 ms, then 400 ms critical: never sooner; and well within the minute Consul itself would round up to.
  assert.ok(reapedAfter >= 595, `reaped ${reapedAfter.toFixed(0)} ms after registering, before TTL + DeregisterCriticalServiceAfter (600 ms)`);
  assert.ok(reapedAfter < 10_000, `reaped ${reapedAfter.toFixed(0)} ms after registering: the sub-minute value was honoured`);
  assert.ok(registry.catalogIndex() > catalogBefore, 'reaping moves the catalog index');
  assert.deepEqual(Object.keys(registry.agentServices()), ['api-2'], 'the healthy instance stays');
  assert.equal(registry.updateTtlCheck('service:api-1', 'passing', ''), 'unknown-check');
});

test('a check that recovers before the deadline is not reaped', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { TTL: '5s', DeregisterCriticalServiceAfter: '250ms' } }));
  await sleep(150);
  registry.updateTtlCheck('service:api-1', 'passing', '');
  await sleep(300);
  assert.ok('api-1' in registry.agentServices());
});

test('heartbeats that change nothing move no index; a status change moves only that service', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { TTL: '10s' } }));
  registry.register(definition({ ID: 'web-1', Name: 'web', Check: { TTL: '10s' } }));
  registry.updateTtlCheck('service:api-1', 'passing', 'serving');
  const api = registry.serviceIndex('api');
  const web = registry.serviceIndex('web');
  const catalog = registry.catalogIndex();

  for (let i = 0; i < 5; i++) registry.updateTtlCheck('service:api-1', 'passing', 'serving');
  assert.equal(registry.serviceIndex('api'), api, 'an unchanged TTL pass must not wake watchers');

  registry.updateTtlCheck('service:api-1', 'passing', 'different output');
  assert.equal(registry.serviceIndex('api'), api, 'output-only changes are not pushed to watchers (Consul defers them)');
  assert.equal(registry.agentChecks()['service:api-1']!.Output, 'different output', 'but reads show them');

  registry.updateTtlCheck('service:api-1', 'warning', 'slow');
  assert.ok(registry.serviceIndex('api') > api);
  assert.equal(registry.serviceIndex('web'), web, 'another service is untouched');
  assert.equal(registry.catalogIndex(), catalog, 'check status is not a catalog change');
  assert.equal(registry.healthService('api', { passing: true }).length, 0, 'warning is not passing');
});

test('a blocked read wakes within milliseconds of a change to its service, and at its deadline otherwise', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { TTL: '10s' } }));
  const index = registry.serviceIndex('api');

  const started = performance.now();
  const timedOut = await registry.waitForIndex(() => registry.serviceIndex('api'), index, 150);
  const waited = performance.now() - started;
  assert.equal(timedOut, 'timeout');
  assert.ok(waited >= 145 && waited < 250, `waited ${waited.toFixed(0)} ms for a 150 ms deadline`);

  const pending = registry.waitForIndex(() => registry.serviceIndex('api'), index, 5_000);
  registry.register(definition({ ID: 'web-1', Name: 'web', Check: { TTL: '10s' } }));
  let settled = false;
  void pending.then(() => (settled = true));
  await sleep(20);
  assert.equal(settled, false, 'a change to another service does not wake the read');
  const changedAt = performance.now();
  registry.updateTtlCheck('service:api-1', 'passing', '');
  assert.equal(await pending, 'changed');
  assert.ok(performance.now() - changedAt < 20);
  assert.equal(registry.blockedReads, 0);
});

test('re-registering keeps check status; an identical re-registration moves no index', (t) => {
  const registry = newRegistry(t);
  const body = { ID: 'api-1', Name: 'api', Port: 80, Tags: ['v1'], Check: { TTL: '10s', Status: 'critical' } };
  registry.register(definition(body));
  registry.updateTtlCheck('service:api-1', 'passing', 'ok');
  const catalog = registry.catalogIndex();
  const api = registry.serviceIndex('api');

  assert.deepEqual(registry.register(definition(body)), { changed: false });
  assert.equal(registry.catalogIndex(), catalog);
  assert.equal(registry.serviceIndex('api'), api);
  assert.equal(checkStatus(registry, 'api', 'api-1'), 'passing');

  assert.deepEqual(registry.register(definition({ ...body, Port: 81, Tags: ['v2'] })), { changed: true });
  assert.ok(registry.catalogIndex() > catalog);
  assert.equal(checkStatus(registry, 'api', 'api-1'), 'passing', 'status survives re-registration');
  assert.equal(registry.agentServices()['api-1']!.Port, 81);
  assert.deepEqual(registry.catalogServices(), { api: ['v2'] });
  const entry = registry.catalogService('api')[0]!;
  assert.ok(entry.ModifyIndex > entry.CreateIndex, 'ModifyIndex moves, CreateIndex stays');
});

test('moving an instance to another name updates both names; checks dropped from a re-registration go', (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'x-1', Name: 'old', Checks: [{ TTL: '10s' }, { TTL: '10s' }] }));
  const oldIndex = registry.serviceIndex('old');
  registry.register(definition({ ID: 'x-1', Name: 'new', Check: { TTL: '10s' } }));
  assert.ok(registry.serviceIndex('old') > oldIndex, 'watchers of the old name see it leave');
  assert.deepEqual(registry.healthService('old'), []);
  assert.deepEqual(Object.keys(registry.agentChecks()), ['service:x-1']);
  assert.equal(registry.updateTtlCheck('service:x-1:2', 'passing', ''), 'unknown-check');
});

test('deregistration removes the instance and moves its service index; unknown ids are reported', (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { TTL: '10s' } }));
  const index = registry.serviceIndex('api');
  assert.equal(registry.deregister('api-1'), true);
  assert.ok(registry.serviceIndex('api') > index);
  assert.deepEqual(registry.agentServices(), {});
  assert.deepEqual(registry.catalogServices(), {});
  assert.equal(registry.deregister('api-1'), false);
  assert.equal(registry.updateTtlCheck('service:api-1', 'passing', ''), 'unknown-check');
});

test('health entries carry the node, the service and a passing serfHealth node check; tags filter', (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Address: '10.0.0.5', Port: 8080, Tags: ['a', 'b'], Check: { TTL: '10s', Status: 'passing' } }));
  registry.register(definition({ ID: 'api-2', Name: 'api', Tags: ['a'], Check: { TTL: '10s', Status: 'passing' } }));
  const [entry] = registry.healthService('api', { tags: ['a', 'b'] });
  assert.equal(registry.healthService('api', { tags: ['a'] }).length, 2);
  assert.ok(entry);
  assert.equal(entry.Node.Node, 'node-a');
  assert.equal(entry.Node.Datacenter, 'dc1');
  assert.equal(entry.Service.Address, '10.0.0.5');
  assert.deepEqual(entry.Service.TaggedAddresses.lan_ipv4, { Address: '10.0.0.5', Port: 8080 });
  assert.deepEqual(
    entry.Checks.map((c) => [c.CheckID, c.Status]),
    [
      ['service:api-1', 'passing'],
      ['serfHealth', 'passing'],
    ],
  );
});

test('updateTtlCheck refuses a check that is not a TTL check', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { HTTP: 'http://127.0.0.1:9/', Interval: '10s', Timeout: '100ms' } }));
  assert.equal(registry.updateTtlCheck('service:api-1', 'passing', ''), 'not-ttl');
});

async function statusServer(t: TestContext, listenOn = 0): Promise<{ server: Server; url: string; setStatus(code: number): void }> {
  let status = 200;
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`status ${status}`);
  });
  server.listen(listenOn, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/health`, setStatus: (code) => (status = code) };
}

test('HTTP checks: 2xx passing, 429 warning, anything else critical, with Consul-style output', async (t) => {
  const registry = newRegistry(t);
  const target = await statusServer(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { HTTP: target.url, Interval: '1s', Timeout: '1s' } }));

  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'passing', 1_000, 'passing');
  const check = () => registry.agentChecks()['service:api-1']!;
  assert.equal(check().Output, `HTTP GET ${target.url}: 200 OK Output: status 200`);
  assert.equal(check().Type, 'http');
  assert.equal(check().Interval, '1s');
  assert.equal(check().Timeout, '1s');

  target.setStatus(429);
  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'warning', 2_000, 'warning');
  target.setStatus(503);
  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'critical', 2_000, 'critical');
  assert.match(check().Output, /: 503 Service Unavailable Output: status 503$/);

  target.server.closeAllConnections();
  await new Promise<void>((resolve) => target.server.close(() => resolve()));
  target.setStatus(200);
  registry.register(definition({ ID: 'api-1', Name: 'api', Tags: ['moved'], Check: { HTTP: target.url, Interval: '1s', Timeout: '1s' } }));
  await eventually(() => /^Get ".*": /.test(check().Output), 1_000, 'a connection error as output');
  assert.equal(check().Status, 'critical');
});

test('an HTTP check reaches a port fetch refuses (a Fetch "bad port", as persist\'s 6000 is)', async (t) => {
  const registry = newRegistry(t);
  const target = await statusServer(t, await freeBadPort());
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { HTTP: target.url, Interval: '1s', Timeout: '1s' } }));
  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'passing', 2_000, 'passing');
  assert.equal(registry.agentChecks()['service:api-1']!.Output, `HTTP GET ${target.url}: 200 OK Output: status 200`);
});

test('an HTTP check runs at most once a second (Consul\'s MinInterval), with a warning', async (t) => {
  const warnings: string[] = [];
  const logger: RegistryLogger = { info: () => {}, warn: (_details, message) => warnings.push(message) };
  const registry = new Registry({ datacenter: 'dc1', nodeName: 'node-a', nodeAddress: '127.0.0.1', logger });
  t.after(() => registry.close());
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { HTTP: url, Interval: '1ns', Timeout: '1s' } }));
  await eventually(() => checkStatus(registry, 'api', 'api-1') === 'passing', 1_000, 'the first probe');
  await sleep(400);
  assert.equal(requests, 1, 'no second probe before 1 s');
  assert.deepEqual(warnings, ['check has interval below minimum of 1s']);
});

test('an HTTP check that does not answer within Timeout is critical', async (t) => {
  const registry = newRegistry(t);
  const hang = createServer(() => {});
  hang.listen(0, '127.0.0.1');
  await once(hang, 'listening');
  t.after(() => {
    hang.closeAllConnections();
    hang.close();
  });
  const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`;
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { HTTP: url, Interval: '1s', Timeout: '100ms', Status: 'passing' } }));
  const elapsed = await eventually(() => checkStatus(registry, 'api', 'api-1') === 'critical', 1_000, 'critical');
  assert.ok(elapsed >= 90, `critical after ${elapsed.toFixed(0)} ms`);
  assert.match(registry.agentChecks()['service:api-1']!.Output, /timed out after 100 ms/);
});

test('close releases blocked reads, stops every timer and refuses writes', async (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Check: { TTL: '100ms', Status: 'passing' } }));
  const index = registry.serviceIndex('api');
  const pending = registry.waitForIndex(() => registry.serviceIndex('api'), index, 60_000);
  registry.close();
  assert.equal(await pending, 'closed');
  await sleep(200);
  assert.equal(registry.serviceIndex('api'), index, 'the TTL timer was cleared');
  assert.throws(() => registry.register(definition({ Name: 'late' })), RegistryClosedError);
  assert.throws(() => registry.deregister('api-1'), RegistryClosedError);
  assert.throws(() => registry.updateTtlCheck('service:api-1', 'passing', ''), RegistryClosedError);
  assert.deepEqual(Object.keys(registry.agentServices()), ['api-1'], 'reads still answer');
});

test('Prometheus HTTP discovery lists every instance with the labels Consul discovery would give', (t) => {
  const registry = newRegistry(t);
  registry.register(definition({ ID: 'api-1', Name: 'api', Address: '10.0.0.5', Port: 7000, Tags: ['api', 'v2'], Check: { TTL: '30s', Status: 'passing' } }));
  registry.register(definition({ ID: 'db-1', Name: 'db', Port: 5432 }));
  const targets = registry.prometheusTargets();
  assert.deepEqual(targets, [
    {
      targets: ['10.0.0.5:7000'],
      labels: {
        __meta_consul_service: 'api',
        __meta_consul_service_id: 'api-1',
        __meta_consul_service_address: '10.0.0.5',
        __meta_consul_service_port: '7000',
        __meta_consul_tags: ',api,v2,',
        __meta_consul_health: 'passing',
        __meta_consul_dc: 'dc1',
        __meta_consul_node: 'node-a',
      },
    },
    {
      targets: ['127.0.0.1:5432'],
      labels: {
        __meta_consul_service: 'db',
        __meta_consul_service_id: 'db-1',
        __meta_consul_service_address: '127.0.0.1',
        __meta_consul_service_port: '5432',
        __meta_consul_tags: ',,',
        __meta_consul_health: 'passing',
        __meta_consul_dc: 'dc1',
        __meta_consul_node: 'node-a',
      },
    },
  ]);
  registry.deregister('api-1');
  assert.deepEqual(registry.prometheusTargets().map((group) => group.labels.__meta_consul_service_id), ['db-1']);
});
