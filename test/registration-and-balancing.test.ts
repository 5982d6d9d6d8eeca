// The kit against a real discovery process and real service processes: registration through the
// consul client, TTL heartbeat, SIGTERM deregistration, and round-robin over the live list.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createConsulClient } from '../lib/src/discovery/consul-client.ts';
import { ServiceWatcher } from '../lib/src/discovery/service-watcher.ts';
import { createService } from '../lib/src/service/create-service.ts';
import { testConfig } from '../lib/test/helper.ts';
import { spawnService } from '../lib/src/testing/service-process.ts';
import { TEST_DISCOVERY_TOKEN } from '../lib/src/testing/service-identity.ts';

type Entry = { Service: { ID: string; Port: number }; Checks: { CheckID: string; Status: string }[] };

test('instances register, stay passing past their TTL, share round-robin calls and deregister on SIGTERM', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const env = { DISCOVERY_URL: discovery.url, HEALTH_TTL_MS: '1000', DEREGISTER_CRITICAL_AFTER_MS: '2000' };
  // A 3 s drain window: time enough, on a loaded machine, to see the draining /health answer 503;
  // and no reaping meanwhile (the failed check would otherwise be reaped before the deregistration).
  const echoes = await Promise.all(
    [1, 2, 3].map((n) => spawnService({ entry: 'test/fixtures/echo-service.ts', env: { ...env, INSTANCE_ID: `echo-${n}`, DRAIN_DELAY_MS: '3000', DEREGISTER_CRITICAL_AFTER_MS: '60000' } }, t)),
  );

  // The caller: a kit service in this process, balancing over the echo instances through discovery.
  const caller = createService({ name: 'caller', config: testConfig({ DISCOVERY_URL: discovery.url }) });
  t.after(() => caller.close());
  const upstream = caller.upstream('echo');
  const watcher = upstream.watcher;
  await watcher.ready();
  await watcher.until((list) => list.length === 3);
  const consul = createConsulClient(discovery.url, TEST_DISCOVERY_TOKEN);
  t.after(() => consul.destroy());

  // Three TTLs later every instance is still passing: the heartbeat works.
  await sleep(3_000);
  const entries = (await consul.health.service({ service: 'echo', passing: true })) as Entry[];
  assert.deepEqual(entries.map((entry) => entry.Service.ID).sort(), ['echo-1', 'echo-2', 'echo-3']);
  assert.ok(entries.every((entry) => entry.Checks.some((check) => check.CheckID === `service:${entry.Service.ID}` && check.Status === 'passing')));

  // Both sides export what they see: discovery its instances and open watches, an instance its registration.
  const registryMetrics = await (await fetch(`${discovery.url}/metrics`)).text();
  assert.match(registryMetrics, /^discovery_registry_instances\{target="echo",status="passing",service="discovery"\} 3$/m);
  // Between two blocking reads (a change just answered one) none is open: wait for the next one.
  let blocking = 0;
  for (const deadline = Date.now() + 60_000; blocking < 1 && Date.now() < deadline; await sleep(100)) {
    const text = await (await fetch(`${discovery.url}/metrics`)).text();
    blocking = Number(/^discovery_blocking_queries\{service="discovery"\} (\d+)$/m.exec(text)?.[1]);
  }
  assert.ok(blocking >= 1, `our watcher holds a blocking query open (${blocking})`);
  // A heartbeat that failed on a loaded machine re-registers: wait for the condition (generously).
  let echoMetrics = '';
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
    echoMetrics = await (await fetch(`${echoes[0]!.url}/metrics`)).text();
    if (/^discovery_registered\{service="echo"\} 1$/m.test(echoMetrics)) break;
  }
  assert.match(echoMetrics, /^discovery_registered\{service="echo"\} 1$/m);

  // 3,000 round-robin calls over three instances: each within ±5% of a third.
  // The caller's watch sees all three (after a re-registration above, its next blocking read does).
  let callerMetrics = '';
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
    callerMetrics = await caller.metrics.metrics();
    if (/^discovery_watch_instances\{target="echo",service="caller"\} 3$/m.test(callerMetrics)) break;
  }
  assert.match(callerMetrics, /^discovery_watch_instances\{target="echo",service="caller"\} 3$/m);
  const call = async () => {
    const instance = upstream.pick();
    const response = await fetch(`http://${instance.address}:${instance.port}/whoami`);
    const { id } = (await response.json()) as { id: string };
    assert.equal(id, instance.id, 'the instance answering is the one picked');
    return id;
  };
  // Round-robin is fair over one list: a batch during which the watch's list changed (a TTL check
  // that flapped on a loaded machine) is measured again, so every counted call saw all three.
  const counts = new Map<string, number>();
  let listChanges = 0;
  let listed = watcher.instances().map((instance) => instance.id).join(',');
  watcher.on('change', (list: readonly { id: string }[]) => {
    const now = list.map((instance) => instance.id).join(',');
    if (now !== listed) listChanges += 1;
    listed = now;
  });
  for (let batch = 0, redone = 0; batch < 30; ) {
    const changesBefore = listChanges;
    const ids = await Promise.all(Array.from({ length: 100 }, call));
    if (listChanges !== changesBefore || watcher.instances().length !== 3) {
      redone += 1;
      assert.ok(redone <= 30, 'the list of instances kept changing');
      await watcher.until((list) => list.length === 3);
      continue;
    }
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    batch += 1;
  }
  for (const id of ['echo-1', 'echo-2', 'echo-3']) {
    const share = counts.get(id) ?? 0;
    assert.ok(share >= 950 && share <= 1050, `${id} got ${share} of 3000 calls`);
  }

  // SIGTERM one instance while calls keep flowing: no call fails, it leaves the list, it deregisters.
  const removed = 'echo-2';
  let failures = 0;
  let picksAfterRemoval = 0;
  let removedSeen = false;
  watcher.on('change', (list) => {
    if (!list.some((instance) => instance.id === removed)) removedSeen = true;
  });
  const traffic = (async () => {
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const results = await Promise.allSettled(Array.from({ length: 10 }, async () => {
        const removedBefore = removedSeen;
        const id = await call();
        if (removedBefore && id === removed) picksAfterRemoval += 1;
      }));
      failures += results.filter((result) => result.status === 'rejected').length;
    }
  })();
  await sleep(300);
  const draining = echoes[1]!;
  draining.process.kill('SIGTERM');
  // While it drains it still answers, with /health 503 so no one new picks it.
  let healthWhileDraining = 0;
  for (let i = 0; i < 20 && healthWhileDraining !== 503; i += 1) {
    healthWhileDraining = await fetch(`${draining.url}/health`).then((response) => response.status, () => -1);
    await sleep(20);
  }
  assert.equal(healthWhileDraining, 503);
  const exit = await draining.exited;
  await traffic;
  assert.deepEqual(exit, { code: 0, signal: null }, 'a graceful exit');
  assert.ok(removedSeen, 'the watcher saw the instance leave');
  assert.equal(picksAfterRemoval, 0, 'a removed instance is never handed out');
  assert.equal(failures, 0, 'draining loses no call');
  const services = (await consul.agent.service.list()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(services).filter((id) => id.startsWith('echo')).sort(), ['echo-1', 'echo-3']);
  assert.ok(echoes[1]!.logs.some((line) => line.msg === 'deregistered from discovery'));
});

test('an instance killed with SIGKILL leaves passing within its TTL and is reaped later', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const env = { DISCOVERY_URL: discovery.url, HEALTH_TTL_MS: '1000', DEREGISTER_CRITICAL_AFTER_MS: '1000' };
  const victim = await spawnService({ entry: 'test/fixtures/echo-service.ts', env: { ...env, INSTANCE_ID: 'echo-victim' } }, t);
  const consul = createConsulClient(discovery.url, TEST_DISCOVERY_TOKEN);
  t.after(() => consul.destroy());
  const watcher = new ServiceWatcher(consul, 'echo', { waitMs: 5_000 }).start();
  t.after(() => watcher.stop());
  await watcher.until((list) => list.length === 1);

  const killedAt = Date.now();
  await victim.stop('SIGKILL');
  await watcher.until((list) => list.length === 0, 5_000);
  const gone = Date.now() - killedAt;
  assert.ok(gone <= 1_000 + 250, `left passing ${gone} ms after the kill (TTL 1000 ms)`);
  assert.ok('echo-victim' in ((await consul.agent.service.list()) as object), 'still registered, critical, until reaped');

  const deadline = Date.now() + 5_000;
  while ('echo-victim' in ((await consul.agent.service.list()) as object)) {
    assert.ok(Date.now() < deadline, 'reaped after DeregisterCriticalServiceAfter');
    await sleep(100);
  }
  const reaped = Date.now() - killedAt;
  assert.ok(reaped >= 1_800, `reaped ${reaped} ms after the kill: TTL then 1 s critical`);
});

test('a service closed while it is still registering leaves no entry behind', async (t) => {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const service = createService({
    name: 'hasty',
    config: testConfig({ DISCOVERY_URL: discovery.url, DISCOVERY_REGISTER: 'true', DRAIN_DELAY_MS: '0' }),
  });
  const listening = service.listen();
  await service.close('closed during start');
  await listening;
  assert.equal(service.state, 'closed');
  const consul = createConsulClient(discovery.url, TEST_DISCOVERY_TOKEN);
  t.after(() => consul.destroy());
  const services = (await consul.agent.service.list()) as Record<string, { Service: string }>;
  assert.deepEqual(Object.values(services).filter((entry) => entry.Service === 'hasty'), []);
});

test('discovery killed and restarted empty: watchers keep the instances they knew, and every instance registers again at its next heartbeat', async (t) => {
  const first = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  // Heartbeats every 2 s (a third of the TTL): the first one that fails registers the instance again.
  const env = { DISCOVERY_URL: first.url, HEALTH_TTL_MS: '6000' };
  await Promise.all([1, 2].map((n) => spawnService({ entry: 'test/fixtures/echo-service.ts', env: { ...env, INSTANCE_ID: `echo-${n}` } }, t)));
  const consul = createConsulClient(first.url, TEST_DISCOVERY_TOKEN);
  t.after(() => consul.destroy());
  const watcher = new ServiceWatcher(consul, 'echo', { waitMs: 2_000, backoffMaxMs: 200 }).start();
  t.after(() => watcher.stop());
  await watcher.until((list) => list.length === 2);
  const seen: number[] = [];
  watcher.on('change', (list) => seen.push(list.length));

  await first.stop('SIGKILL');
  await spawnService({ entry: 'discovery/src/server.ts', env: { PORT: String(first.port) } }, t);
  const backAt = Date.now();
  const registered = async () => Object.keys((await consul.agent.service.list()) as object).length;
  while ((await registered()) < 2) {
    assert.ok(Date.now() - backAt < 15_000, 'both instances registered again within 15 s of the registry’s return');
    await sleep(50);
  }
  t.diagnostic(`both instances registered again ${Date.now() - backAt} ms after the registry came back`);
  await watcher.until((list) => list.length === 2);
  assert.ok(!seen.includes(0), `the watcher never listed no instance (lists seen: ${seen.join(', ')})`);
});
