// The real service as `npm start` runs it, a child process on a free port: it registers with
// discovery, serves avatars over HTTP, keeps answering /health quickly while a burst of cold
// renders runs (encoding is on libuv's threads, not the event loop), and on SIGTERM deregisters
// and exits 0.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { spawnService, TEST_DISCOVERY_TOKEN, testDatabase } from '@notify/lib/testing';
import { decodePng, get, metric } from './helper.ts';

type HealthEntry = { Service: { ID: string; Service: string; Port: number } };

test('avatar as a process: discovery, avatars over HTTP, /health fast under cold renders, clean SIGTERM', async (t) => {
  const db = await testDatabase(t);
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  // Level 9: the costliest encoding, so rendering on the event loop could not go unnoticed.
  const avatar = await spawnService({ entry: 'avatar/src/server.ts', env: { DATABASE_URL: db.url, DISCOVERY_URL: discovery.url, DRAIN_DELAY_MS: '0', PNG_COMPRESSION_LEVEL: '9' } }, t);
  const passing = async () => (await (await fetch(`${discovery.url}/v1/health/service/avatar?passing`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as HealthEntry[];

  await t.test('registers with discovery as "avatar", passing', async () => {
    const entries = await passing();
    assert.deepEqual(entries.map((e) => e.Service.Port), [avatar.port]);
  });

  await t.test('serves a PNG avatar over HTTP', async () => {
    const answer = await get(`${avatar.url}/avatars/ada@example.com.png?size=256&style=github`);
    assert.equal(answer.status, 200);
    assert.equal((await decodePng(answer.body)).width, 256);
    const health = await get(`${avatar.url}/health`);
    assert.deepEqual(JSON.parse(health.body.toString()), { status: 'ok' });
  });

  await t.test('/health stays fast during a burst of cold 1024 px renders', async () => {
    // The machine's own noise first (test files run side by side): the same probes, idle.
    const idle: number[] = [];
    for (let probe = 0; probe < 20; probe += 1) {
      const sent = performance.now();
      await get(`${avatar.url}/health`);
      idle.push(performance.now() - sent);
      await sleep(5);
    }
    idle.sort((a, b) => a - b);
    const idleMedian = idle[10]!;
    const idleP90 = idle[18]!;
    const renders = 48;
    let next = 0;
    let bursting = true;
    const began = performance.now();
    const burst = Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < renders) {
          const answer = await get(`${avatar.url}/avatars/burst-${next++}.png?size=1024`);
          assert.equal(answer.status, 200);
        }
      }),
    ).finally(() => (bursting = false));
    const latencies: number[] = [];
    while (bursting) {
      const sent = performance.now();
      assert.equal((await get(`${avatar.url}/health`)).status, 200);
      latencies.push(performance.now() - sent);
      await sleep(10);
    }
    await burst;
    const burstMs = performance.now() - began;
    latencies.sort((a, b) => a - b);
    const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    const renderSeconds = await metric(avatar.url, 'avatar_render_duration_seconds_sum');
    t.diagnostic(
      `${renders} renders in ${burstMs.toFixed(0)} ms (${((1000 * renderSeconds) / renders).toFixed(1)} ms each); /health over ${latencies.length} probes: p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, max ${at(1).toFixed(1)} ms (idle: p50 ${idleMedian.toFixed(1)}, p90 ${idleP90.toFixed(1)})`,
    );
    assert.equal(await metric(avatar.url, 'avatar_renders_total', { style: 'identicon' }), renders);
    assert.ok(latencies.length >= 5, `the burst lasted long enough to probe (${latencies.length} probes)`);
    // Encoding on the event loop would queue every probe behind the renders ahead of it (tens of
    // milliseconds each); on libuv's threads a probe waits only for the loop's own short turns.
    // Measured against the idle probes, so a busy machine does not fail it; drawing on the loop would.
    assert.ok(at(0.5) < idleMedian + 20, `/health median ${at(0.5).toFixed(1)} ms during renders (idle ${idleMedian.toFixed(1)} ms)`);
    assert.ok(at(0.9) < idleP90 + 100, `/health p90 ${at(0.9).toFixed(1)} ms during renders (idle ${idleP90.toFixed(1)} ms)`);
  });

  await t.test('SIGTERM: deregisters from discovery and exits 0', async () => {
    const exit = await avatar.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.deepEqual(await passing(), []);
    const all = (await (await fetch(`${discovery.url}/v1/health/service/avatar`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as HealthEntry[];
    assert.deepEqual(all, [], 'deregistered, not merely failing');
  });
});
