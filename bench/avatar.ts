// `npm run bench:avatar [-- options]`: the avatar service against the targets, on its own
// process (127.0.0.1, a free port, no discovery; stopped at the end, on error and on Ctrl-C).
//
// Each run measures, at 128 px, over keep-alive HTTP/1.1 connections (one request in flight each):
// 1. cold renders/s: every request a seed never asked for before, so each one is drawn and encoded
//    (identicon and github); meanwhile one more connection asks GET /health every 5 ms, and its
//    latency says whether rendering stalls the event loop;
// 2. cached responses/s: a few hundred avatars rendered beforehand, asked for again and again.
// The figures are the medians over the runs. Targets: ≥ 500 cold renders/s, ≥ 10,000 cached
// responses/s, and /health p99 ≤ 25 ms during cold renders (the machine has 2 cores, shared by the
// service and this load generator).
// Options: --runs=N (5), --duration=S seconds measured per phase (2), --connections=N (16),
// --json=FILE.
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnService, testDatabase, type ServiceProcess } from '@notify/lib/testing';
import { httpGet, KeepAliveConnection } from './lib/clients.ts';
import { histogramDeltas, scrape } from './lib/metrics.ts';
import { ClosedLoop, fmt, log, median, Samples, table, type LoadFigures } from './lib/stats.ts';
import { cpuShare, cpuSnapshot } from './lib/system.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    json: { type: 'string' },
  },
});

const OPTIONS = {
  runs: Number(args.runs),
  measureMs: Number(args.duration) * 1000,
  warmupMs: 300,
  connections: Number(args.connections),
  size: 128,
  /** Distinct avatars the cached phase cycles through. */
  cachedAvatars: 256,
  healthEveryMs: 5,
};
const STYLES = ['identicon', 'github'] as const;
const TARGETS = { coldPerSecond: 500, cachedPerSecond: 10_000, healthP99Ms: 25 };


interface PhaseResult extends LoadFigures {
  /** Mean draw + encode time from the service's own histogram (cold phases). */
  renderMeanMs?: number;
  health?: { p50: number; p99: number; max: number; count: number };
}

interface Run {
  cold: Record<(typeof STYLES)[number], PhaseResult>;
  cached: PhaseResult;
}

const results: { startedAt: string; options: typeof OPTIONS; idleHealth?: { p50: number; p99: number }; runs: Run[]; errors: string[] } = {
  startedAt: new Date().toISOString(),
  options: OPTIONS,
  runs: [],
  errors: [],
};

let avatar: ServiceProcess | undefined;
let nextSeed = 0;

/** `count` keep-alive connections to the service. */
async function connect(count: number): Promise<KeepAliveConnection[]> {
  return Promise.all(Array.from({ length: count }, () => KeepAliveConnection.open(avatar!.port)));
}

const avatarPath = (seed: string, style: string) => `/avatars/${seed}.png?size=${OPTIONS.size}&style=${style}`;
const HEALTH = httpGet('/health');

/** Asks /health every few ms on its own connection until `stop` resolves; latencies in ms. */
async function probeHealth(connection: KeepAliveConnection, stop: Promise<void>): Promise<Samples> {
  const samples = new Samples();
  let running = true;
  void stop.then(() => (running = false));
  while (running) {
    const began = performance.now();
    const status = await connection.request(HEALTH);
    if (status !== 200) throw new Error(`/health answered ${status}`);
    samples.add(performance.now() - began);
    await sleep(OPTIONS.healthEveryMs);
  }
  return samples;
}

/**
 * Closed loop on `connections`: each sends its next request when the previous one answers, for a
 * warm-up and then the measured window; `request(slot)` gives the bytes to send.
 */
async function closedLoop(connections: KeepAliveConnection[], request: () => Buffer, options: { health?: KeepAliveConnection; renders?: boolean } = {}): Promise<PhaseResult> {
  const loop = new ClosedLoop(connections.length, async (slot) => {
    const status = await connections[slot]!.request(request());
    if (status !== 200) throw new Error(`status ${status}`);
  });
  await sleep(OPTIONS.warmupMs);
  const processes = [
    { label: 'avatar', pid: avatar!.process.pid!, tree: false },
    { label: 'bench', pid: process.pid, tree: false },
  ];
  const metricsBefore = await scrape(avatar!.url);
  const cpuBefore = await cpuSnapshot(processes);
  let endWindow!: () => void;
  const windowOver = new Promise<void>((resolve) => (endWindow = resolve));
  const health = options.health ? probeHealth(options.health, windowOver) : undefined;
  const windowStart = performance.now();
  loop.measuring = true;
  await sleep(OPTIONS.measureMs);
  loop.measuring = false;
  const seconds = (performance.now() - windowStart) / 1000;
  endWindow();
  const cpuAfter = await cpuSnapshot(processes);
  await loop.stop();
  const healthSamples = await health;
  const metricsAfter = await scrape(avatar!.url);
  const renders = histogramDeltas(metricsBefore, metricsAfter, 'avatar_render_duration_seconds');
  const rendered = renders.reduce((sum, d) => sum + d.count, 0);
  return {
    ...loop.figures(seconds, Object.fromEntries(cpuShare(cpuBefore, cpuAfter, seconds))),
    ...(options.renders && rendered > 0 ? { renderMeanMs: renders.reduce((sum, d) => sum + d.meanMs * d.count, 0) / rendered } : {}),
    ...(healthSamples
      ? { health: { p50: healthSamples.percentile(50), p99: healthSamples.percentile(99), max: healthSamples.percentile(100), count: healthSamples.size } }
      : {}),
  };
}

async function oneRun(run: number, connections: KeepAliveConnection[], health: KeepAliveConnection, cachedPaths: Buffer[]): Promise<Run> {
  const cold = {} as Run['cold'];
  for (const style of STYLES) {
    // A seed never used before, so nothing is cached: every request is drawn and encoded.
    cold[style] = await closedLoop(connections, () => httpGet(avatarPath(`bench${run}-${style}-${nextSeed++}`, style)), { health, renders: true });
    log(`run ${run}: cold ${style} ${fmt(cold[style].rate)}/s, /health p99 ${fmt(cold[style].health?.p99, 2)} ms`);
  }
  let next = 0;
  const cached = await closedLoop(connections, () => cachedPaths[next++ % cachedPaths.length]!);
  log(`run ${run}: cached ${fmt(cached.rate)}/s`);
  return { cold, cached };
}

function report(): void {
  const { runs } = results;
  if (runs.length === 0) return;
  const cpu = (r: PhaseResult) => `${fmt(r.cpu.avatar, 0)} / ${fmt(r.cpu.bench, 0)}`;
  const rows = runs.map((r, i) => [
    String(i + 1),
    fmt(r.cold.identicon.rate),
    fmt(r.cold.github.rate),
    fmt(r.cached.rate),
    fmt(r.cold.identicon.health?.p99, 2),
    fmt(r.cold.github.health?.p99, 2),
    fmt(r.cold.identicon.renderMeanMs, 2),
    fmt(r.cold.github.renderMeanMs, 2),
    `${cpu(r.cold.identicon)}, ${cpu(r.cached)}`,
  ]);
  const med = (pick: (r: Run) => number | undefined) => median(runs.map(pick).filter((v): v is number => v !== undefined));
  const medians = {
    coldIdenticon: med((r) => r.cold.identicon.rate),
    coldGithub: med((r) => r.cold.github.rate),
    cached: med((r) => r.cached.rate),
    healthP99: med((r) => Math.max(r.cold.identicon.health?.p99 ?? 0, r.cold.github.health?.p99 ?? 0)),
    healthP50: med((r) => r.cold.identicon.health?.p50),
    healthMax: Math.max(...runs.map((r) => Math.max(r.cold.identicon.health?.max ?? 0, r.cold.github.health?.max ?? 0))),
  };
  rows.push([
    'median',
    fmt(medians.coldIdenticon),
    fmt(medians.coldGithub),
    fmt(medians.cached),
    fmt(med((r) => r.cold.identicon.health?.p99), 2),
    fmt(med((r) => r.cold.github.health?.p99), 2),
    fmt(med((r) => r.cold.identicon.renderMeanMs), 2),
    fmt(med((r) => r.cold.github.renderMeanMs), 2),
    '',
  ]);
  const out = [
    '',
    `avatar at ${OPTIONS.size} px: ${runs.length} runs, ${OPTIONS.connections} connections, ${OPTIONS.measureMs / 1000} s per phase`,
    table(
      ['run', 'cold identicon/s', 'cold github/s', 'cached/s', 'health p99 ms (identicon)', 'health p99 ms (github)', 'render ms (identicon)', 'render ms (github)', 'CPU % avatar / bench (cold identicon, cached)'],
      rows,
    ),
    `/health during cold renders: p50 ${fmt(medians.healthP50, 2)} ms, p99 ${fmt(medians.healthP99, 2)} ms (worse style, median of runs), max ${fmt(medians.healthMax, 1)} ms; idle: p50 ${fmt(results.idleHealth?.p50, 2)} ms, p99 ${fmt(results.idleHealth?.p99, 2)} ms`,
  ];
  const errors = runs.flatMap((r) => [r.cold.identicon, r.cold.github, r.cached]).reduce((sum, p) => sum + p.errors, 0);
  if (errors) out.push(`!! ${errors} failed requests, first: ${runs.flatMap((r) => [r.cold.identicon, r.cold.github, r.cached]).find((p) => p.firstError)?.firstError}`);
  const coldWorst = Math.min(medians.coldIdenticon, medians.coldGithub);
  const checks: [string, boolean, string][] = [
    [`cold renders ≥ ${fmt(TARGETS.coldPerSecond)}/s (each style)`, coldWorst >= TARGETS.coldPerSecond, `identicon ${fmt(medians.coldIdenticon)}/s, github ${fmt(medians.coldGithub)}/s`],
    [`cached responses ≥ ${fmt(TARGETS.cachedPerSecond)}/s`, medians.cached >= TARGETS.cachedPerSecond, `${fmt(medians.cached)}/s`],
    [`/health p99 ≤ ${TARGETS.healthP99Ms} ms during cold renders`, medians.healthP99 <= TARGETS.healthP99Ms, `${fmt(medians.healthP99, 2)} ms`],
  ];
  out.push('', 'Targets (medians)', table(['target', 'met', 'measured'], checks.map(([name, met, value]) => [name, met ? 'yes' : 'NO', value])));
  if (results.errors.length) out.push('', 'Errors:', ...results.errors.map((e) => `  - ${e}`));
  console.log(out.join('\n'));
}

async function stop(): Promise<void> {
  if (!avatar) return;
  const timer = setTimeout(() => avatar?.process.kill('SIGKILL'), 5_000);
  await avatar.stop('SIGTERM');
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the avatar service`);
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    console.error('!! the benchmark ran over 2 minutes; stopping');
    void stop().finally(() => process.exit(2));
  }, 120_000);
  deadline.unref();
  const began = performance.now();
  let failed = false;
  try {
    // Its database (pictures; the generated avatars measured here never read it), dropped at exit.
    const database = await testDatabase('bench-avatar');
    avatar = await spawnService({ entry: 'avatar/src/server.ts', env: { DATABASE_URL: database.url, DISCOVERY_REGISTER: 'false', DRAIN_DELAY_MS: '0' } });
    log(`avatar on ${avatar.url} (pid ${avatar.process.pid})`);
    const connections = await connect(OPTIONS.connections);
    const [health] = await connect(1);

    // Idle /health latency, the baseline.
    const idle = new Samples();
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await health!.request(HEALTH);
      idle.add(performance.now() - t);
    }
    results.idleHealth = { p50: idle.percentile(50), p99: idle.percentile(99) };

    // The cached phase's avatars, rendered once beforehand.
    const cachedPaths = Array.from({ length: OPTIONS.cachedAvatars }, (_, i) => httpGet(avatarPath(`cached-${i}`, STYLES[i % STYLES.length]!)));
    for (const path of cachedPaths) if ((await connections[0]!.request(path)) !== 200) throw new Error('warming the cache failed');

    for (let run = 1; run <= OPTIONS.runs; run++) results.runs.push(await oneRun(run, connections, health!, cachedPaths));
    for (const connection of [...connections, health!]) connection.close();
  } catch (error) {
    failed = true;
    results.errors.push((error as Error).stack ?? String(error));
  } finally {
    report();
    if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
    await stop();
    log(`done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
  }
  process.exit(failed ? 1 : 0);
}

await main();
