// `npm run bench:gateway [-- options]`: the gateway's performance against the issue's targets, on
// a system of its own (embedded PostgreSQL in a temp dir, discovery, auth ×2, persist, counter,
// gateway; 127.0.0.1, free ports; everything stopped at the end, on error and on Ctrl-C).
//
// 1. RPC throughput: closed-loop calls over JSON-RPC /ws (C connections × K calls in flight) of a
//    cheap authenticated read, against the same read made directly over keep-alive HTTP/1.1 at
//    the same concurrency (C×K sockets, one request in flight each, no pipelining):
//    `counters.get` (gateway → counter) vs GET /api/counters/:userId on counter, and `users.me`
//    (answered from the gateway's session) vs GET /api/sessions/current on auth (both instances).
//    Target: ≥ 10,000 calls/s and ≥ 0.6 of direct. Direct calls go through undici's Pool when
//    undici can be imported (or BENCH_UNDICI=/path/to/undici/index.js), else through the bench's
//    own keep-alive client (undici is not a dependency of the repo).
// 2. `notifications.publish` (2PC: gateway log + persist + counter): P publishers, each with its
//    own topic and one connected subscriber; the peak (closed loop, rising calls in flight), then
//    latency at half the peak in an open loop (latency from each call's scheduled time, so a
//    stall is not hidden). Target: ≥ 1,000 tx/s, p99 ≤ 50 ms at half the peak.
// 3. Fan-out: N (10,000) distinct users, each with one JSON-RPC connection (held by worker
//    threads), all subscribed to one topic; one publish reaches all: time from the publish sent
//    to each socket's `notification` push, p50/p99 over sockets, for several publishes.
//    Target: p99 ≤ 250 ms. And the gateway's memory per idle connection: RSS (after forced GC
//    through the inspector) before and after the N connections, divided by N; target ≤ 20 KB.
//    The same memory reading for N socket.io connections, for comparison.
//
// Every phase also reports each process's CPU (ms per call and share of one core; the machine has
// 2), which names the bottleneck, and the mean duration of each step from the services' own
// metrics (2PC decision, upstream calls, participants' routes, fan-out); `--profile` adds CPU
// profiles of the gateway, counter and persist, taken through their inspectors.
// PostgreSQL is durable (fsync and synchronous_commit on), as users run it; the publish peak is
// measured again with fsync off (reloaded on the same server) for a second column. Each publish
// row gives the mean group-commit batch (transactions per batch, from the gateway's metrics).
// Options: --quick (short phases, 2,000 fan-out connections), --profile, --fsync-off (the whole run
// without fsync), --fanout=N, --duration=S (seconds measured per throughput step), --json=FILE,
// --only=rpc,publish,fanout (those phases alone; `--only=publish` for short repeated runs),
// --levels=32 (the publish calls in flight per publisher to try, default 1,2,4,8,16,32: one level
// measures the same load in every run, where the peak search may stop early on a noisy machine).
// --tracing: every service traces (OTEL_EXPORTER_OTLP_ENDPOINT names a receiver in this process,
// on 127.0.0.1, that answers 200 to `POST /v1/traces` and counts the spans without keeping them;
// OTEL_BSP_SCHEDULE_DELAY is the services' default, 2,000 ms, unless set in the bench's own
// environment); each row then says how many spans arrived per call, and the report the total.
// Tracing's cost is this run's figures against the same run without --tracing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { RpcMethod } from '@notify/lib/rpc';
import { httpGet, inParallel, KeepAliveConnection, loadUndiciPool, postJson, RpcSocket, type UndiciPool } from './lib/clients.ts';
import type { FanoutWorkerData, FromWorker, ToWorker } from './lib/fanout-worker.ts';
import { Inspector, profileTables, type ProfileSummary } from './lib/inspector.ts';
import { histogramDeltas, scrape, type HistogramDelta } from './lib/metrics.ts';
import { ClosedLoop, fmt, log, median, percentile, Samples, table, type LoadFigures } from './lib/stats.ts';
import { startSpanSink, type SpanSink } from './lib/span-sink.ts';
import { cpuShare, cpuSnapshot, isStopping, openFileLimits, rssBytes, startSystem, stopSystem, type BenchSystem } from './lib/system.ts';

const ROOT = resolve(import.meta.dirname, '..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    // Accepted for older command lines: durable is the default.
    durable: { type: 'boolean', default: true },
    'fsync-off': { type: 'boolean', default: false },
    fanout: { type: 'string' },
    duration: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    levels: { type: 'string' },
    tracing: { type: 'boolean', default: false },
  },
});

const PHASES = ['rpc', 'publish', 'fanout'] as const;
const ONLY = args.only?.split(',').map((phase) => phase.trim()) ?? [...PHASES];
if (args.levels && !args.levels.split(',').every((level) => /^[1-9]\d*$/.test(level))) throw new Error(`--levels=${args.levels}: calls in flight per publisher, e.g. 8,16,32`);
for (const phase of ONLY) {
  if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--only=${args.only}: phases are ${PHASES.join(', ')}`);
}
/** The services' own default (lib's config), unless the bench's environment names another. */
const EXPORT_DELAY_MS = process.env.OTEL_BSP_SCHEDULE_DELAY ?? '2000';

const QUICK = args.quick;
const DURABLE = !args['fsync-off'];
const OPTIONS = {
  /** Phase 1: JSON-RPC connections and calls in flight on each; direct: CONNECTIONS × IN_FLIGHT sockets. */
  rpcConnections: 32,
  rpcInFlight: 8,
  warmupMs: QUICK ? 500 : 1_500,
  measureMs: (args.duration ? Number(args.duration) : QUICK ? 2 : 5) * 1000,
  /** Phase 2: publishers, the in-flight levels of the peak search (per publisher), open-loop length. */
  publishers: 16,
  publishLevels: args.levels ? args.levels.split(',').map(Number) : [1, 2, 4, 8, 16, 32],
  publishStepMs: args.duration ? Number(args.duration) * 1000 : QUICK ? 1_500 : 3_000,
  openLoopMs: QUICK ? 3_000 : 8_000,
  /** Phase 3. */
  fanoutConnections: !ONLY.includes('fanout') ? 0 : args.fanout ? Number(args.fanout) : QUICK ? 2_000 : 10_000,
  fanoutPublishes: QUICK ? 3 : 5,
  fanoutWorkers: 2,
  setupConcurrency: 64,
  connectConcurrency: 100,
};


// ---- results ----

interface LoadResult extends LoadFigures {
  label: string;
  /** Mean transactions per group-committed batch at the gateway over the window. */
  batchMean?: number;
  gatewayLoopLagP99Ms?: number;
  /** Mean step durations from the services' metrics over the window (`service: metric{labels}`). */
  breakdown: (HistogramDelta & { service: string })[];
  profiles?: Record<string, ProfileSummary>;
  /** --tracing: spans the receiver counted during the window. */
  spans?: number;
}

interface FanoutRun {
  p50: number;
  p99: number;
  max: number;
  missing: number;
  replyMs: number;
}

interface Results {
  startedAt: string;
  options: typeof OPTIONS & { durablePostgres: boolean; phases: string[]; tracing: boolean };
  /** --tracing: what the receiver took over the whole run (the services' last flush included). */
  tracing?: { endpoint: string; exportDelayMs: number; spans: number; requests: number; bytes: number; uncounted: number };
  directClient?: string;
  rpc: LoadResult[];
  publishLevels: (LoadResult & { inFlight: number })[];
  publishPeak?: LoadResult & { inFlight: number };
  /** The same peak search with fsync and synchronous_commit off (the second column). */
  publishLevelsFsyncOff: (LoadResult & { inFlight: number })[];
  publishHalf?: LoadResult & { targetRate: number; pushP50: number; pushP99: number };
  fanout?: {
    connections: number;
    setup: Record<string, number>;
    memory: { transport: string; connections: number; rssPerConnection: number; heapPerConnection: number; connectSeconds: number }[];
    runs: FanoutRun[];
    socketIoRuns: FanoutRun[];
    cpu: Record<string, number>;
    /** Length of the measured publishes' window (CPU shares are over it). */
    seconds: number;
    breakdown: (HistogramDelta & { service: string })[];
    profiles?: Record<string, ProfileSummary>;
  };
  errors: string[];
}

const results: Results = {
  startedAt: new Date().toISOString(),
  options: { ...OPTIONS, durablePostgres: DURABLE, phases: ONLY, tracing: args.tracing },
  rpc: [],
  publishLevels: [],
  publishLevelsFsyncOff: [],
  errors: [],
};

// ---- measurement helpers ----

interface Probe {
  system: BenchSystem;
  /** Inspector sessions by service label. */
  inspectors: Map<string, Inspector>;
  /** --tracing: the receiver the services export to. */
  sink?: SpanSink;
}

/** Services whose CPU profile --profile takes in every window. */
const PROFILED = ['gateway', 'counter', 'persist'];

/** The step histograms read around each window, per service. */
const BREAKDOWN: Record<string, string[]> = {
  gateway: ['gateway_rpc_duration_seconds', 'twopc_coordinator_decision_seconds', 'upstream_request_duration_seconds', 'gateway_push_fanout_seconds'],
  persist: ['http_request_duration_seconds'],
  counter: ['http_request_duration_seconds'],
};

interface Measured<T> {
  value: T;
  batchMean?: number;
  cpu: Record<string, number>;
  lagP99?: number;
  breakdown: (HistogramDelta & { service: string })[];
  profiles?: Record<string, ProfileSummary>;
  spans?: number;
}

/**
 * Wraps a measurement window: CPU of every process, the gateway's loop lag, the services' step
 * durations and, with --profile, CPU profiles of the gateway, counter and persist.
 */
async function measured<T>(probe: Probe, seconds: () => number, run: () => Promise<T>): Promise<Measured<T>> {
  const { system } = probe;
  const processes = system.processes();
  const services = Object.keys(BREAKDOWN).map((label) => ({ label, url: label === 'gateway' ? system.gateway.url : label === 'persist' ? system.persist.url : system.counter.url }));
  const metricsBefore = await Promise.all(services.map((service) => scrape(service.url)));
  const before = await cpuSnapshot(processes);
  const spansBefore = probe.sink?.spans;
  if (args.profile) await Promise.all(PROFILED.map((label) => probe.inspectors.get(label)!.startProfile()));
  const value = await run();
  const profiles = args.profile
    ? Object.fromEntries(await Promise.all(PROFILED.map(async (label) => [label, await probe.inspectors.get(label)!.stopProfile()] as const)))
    : undefined;
  const after = await cpuSnapshot(processes);
  const spans = probe.sink && spansBefore !== undefined ? probe.sink.spans - spansBefore : undefined;
  const metricsAfter = await Promise.all(services.map((service) => scrape(service.url)));
  const breakdown = services.flatMap((service, i) =>
    BREAKDOWN[service.label]!.flatMap((metric) =>
      histogramDeltas(metricsBefore[i]!, metricsAfter[i]!, metric, (labels) => !/route="\/(metrics|status|health)"/.test(labels)).map((delta) => ({ ...delta, service: service.label })),
    ),
  );
  const status = (await (await fetch(`${system.gateway.url}/status`)).json()) as { eventLoopLagMs: { p99: number } };
  const gatewayAt = services.findIndex((service) => service.label === 'gateway');
  const batches = histogramDeltas(metricsBefore[gatewayAt]!, metricsAfter[gatewayAt]!, 'twopc_coordinator_batch_size');
  const batchCount = batches.reduce((sum, delta) => sum + delta.count, 0);
  return {
    value,
    // meanMs is the mean × 1000 (the helper assumes seconds): here, transactions per batch.
    ...(batchCount ? { batchMean: batches.reduce((sum, delta) => sum + (delta.meanMs / 1000) * delta.count, 0) / batchCount } : {}),
    cpu: Object.fromEntries(cpuShare(before, after, seconds())),
    lagP99: status.eventLoopLagMs.p99,
    breakdown,
    ...(profiles ? { profiles } : {}),
    ...(spans === undefined ? {} : { spans }),
  };
}

/**
 * Closed loop: `slots` callers, each firing its next call when the previous one answers, for
 * warm-up + measure; counts and times the calls that finish inside the measured window.
 */
async function closedLoop(
  probe: Probe,
  label: string,
  slots: number,
  fire: (slot: number) => Promise<unknown>,
  warmupMs: number,
  measureMs: number,
): Promise<LoadResult> {
  const loop = new ClosedLoop(slots, fire);
  await sleep(warmupMs);
  let windowStart = 0;
  let windowSeconds = 0;
  const m = await measured(
    probe,
    () => windowSeconds,
    async () => {
      windowStart = performance.now();
      loop.measuring = true;
      await sleep(measureMs);
      loop.measuring = false;
      windowSeconds = (performance.now() - windowStart) / 1000;
    },
  );
  await loop.stop();
  return {
    label,
    ...(m.batchMean === undefined ? {} : { batchMean: m.batchMean }),
    ...loop.figures(windowSeconds, m.cpu),
    ...(m.lagP99 === undefined ? {} : { gatewayLoopLagP99Ms: m.lagP99 }),
    breakdown: m.breakdown,
    ...(m.profiles ? { profiles: m.profiles } : {}),
    ...(m.spans === undefined ? {} : { spans: m.spans }),
  };
}

// ---- setup helpers ----

interface BenchUser {
  id: string;
  token: string;
}

let userSeq = 0;
/** Registers `count` users directly at auth (both instances in turn); the gateway is not involved. */
async function registerUsers(system: BenchSystem, count: number, prefix: string): Promise<BenchUser[]> {
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return inParallel(count, OPTIONS.setupConcurrency, async (i) => {
    const auth = system.auth[i % system.auth.length]!;
    const n = userSeq++;
    const grant = await postJson<{ user: { id: string }; token: string }>(`${auth.url}/api/users`, {
      email: `${prefix}-${run}-${n}@bench.test`,
      password: 'bench password 1',
      name: `${prefix} ${n}`,
    }, auth.headers());
    return { id: grant.user.id, token: grant.token };
  });
}

async function connectAll(system: BenchSystem, users: BenchUser[]): Promise<RpcSocket[]> {
  const sockets = await inParallel(users.length, 32, (i) => RpcSocket.open(system.gateway.port, users[i]!.token));
  // users.me answers once the gateway has resolved the connection's token.
  await Promise.all(sockets.map((socket) => socket.call('users.me')));
  return sockets;
}

/**
 * Waits until persist and counter answer nothing but this question (a publication's follow-ups,
 * unread counts and delivery records, are done), so one fan-out publish does not overlap the last.
 */
async function waitIdle(system: BenchSystem, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await sleep(200);
  for (;;) {
    const busy = await Promise.all(
      [system.persist, system.counter].map(async (service) => ((await (await fetch(`${service.url}/status`)).json()) as { inFlightRequests: number }).inFlightRequests > 1),
    );
    if (!busy.includes(true) || Date.now() > deadline) return;
    await sleep(50);
  }
}

async function gatewayMemory(probe: Probe): Promise<{ rss: number; heap: number }> {
  await sleep(500);
  const inspector = probe.inspectors.get('gateway')!;
  await inspector.collectGarbage();
  await sleep(300);
  return { rss: await rssBytes(probe.system.gateway.process.pid!), heap: await inspector.heapUsed() };
}

// ---- phase 1 ----

async function phaseRpc(probe: Probe): Promise<void> {
  const { system } = probe;
  const { rpcConnections: connections, rpcInFlight: inFlight } = OPTIONS;
  const slots = connections * inFlight;
  log(`phase 1: RPC throughput, ${connections} ws × ${inFlight} in flight vs ${slots} keep-alive HTTP sockets`);
  const users = await registerUsers(system, connections, 'rpc');
  const sockets = await connectAll(system, users);

  const viaGateway = (method: RpcMethod) => (slot: number) => sockets[slot % connections]!.call(method);
  // Direct calls: undici's Pool (keep-alive, pipelining 1, as many connections as calls in flight)
  // when undici can be imported, else the bench's own keep-alive client (same semantics, less CPU).
  const Pool = await loadUndiciPool();
  results.directClient = Pool ? 'undici Pool (pipelining 1)' : 'raw keep-alive sockets (undici not installed)';
  log(`  direct calls through ${results.directClient}`);
  const direct = async (target: (slot: number) => { port: number; path: string; headers: Record<string, string> }) => {
    const targets = Array.from({ length: slots }, (_, slot) => target(slot));
    if (Pool) {
      const pools = new Map<number, UndiciPool>();
      for (const t of targets) if (!pools.has(t.port)) pools.set(t.port, new Pool(`http://127.0.0.1:${t.port}`, { connections: targets.filter((o) => o.port === t.port).length, pipelining: 1 }));
      const fire = async (slot: number) => {
        const t = targets[slot]!;
        const response = await pools.get(t.port)!.request({ path: t.path, method: 'GET', headers: t.headers });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
      };
      return { fire, close: () => void Promise.all([...pools.values()].map((pool) => pool.close())) };
    }
    const requests = targets.map((t) => httpGet(t.path, t.headers));
    const conns = await Promise.all(targets.map((t) => KeepAliveConnection.open(t.port)));
    const fire = async (slot: number) => {
      const status = await conns[slot]!.request(requests[slot]!);
      if (status !== 200) throw new Error(`HTTP ${status}`);
    };
    return { fire, close: () => conns.forEach((conn) => conn.close()) };
  };

  const { warmupMs, measureMs } = OPTIONS;
  const counterDirect = await direct((slot) => ({ port: system.counter.port, path: `/api/counters/${users[slot % connections]!.id}`, headers: system.counter.headers() }));
  const authDirect = await direct((slot) => ({
    port: system.auth[slot % 2]!.port,
    path: '/api/sessions/current',
    headers: { authorization: `Bearer ${users[slot % connections]!.token}`, ...system.auth[slot % 2]!.headers() },
  }));
  try {
    results.rpc.push(await closedLoop(probe, 'counters.get via gateway /ws', slots, viaGateway('counters.get'), warmupMs, measureMs));
    log(`  ${describe(results.rpc.at(-1)!)}`);
    results.rpc.push(await closedLoop(probe, 'GET /api/counters/:id on counter', slots, counterDirect.fire, warmupMs, measureMs));
    log(`  ${describe(results.rpc.at(-1)!)}`);
    results.rpc.push(await closedLoop(probe, 'users.me via gateway /ws', slots, viaGateway('users.me'), warmupMs, measureMs));
    log(`  ${describe(results.rpc.at(-1)!)}`);
    results.rpc.push(await closedLoop(probe, 'GET /api/sessions/current on auth ×2', slots, authDirect.fire, warmupMs, measureMs));
    log(`  ${describe(results.rpc.at(-1)!)}`);
  } finally {
    counterDirect.close();
    authDirect.close();
    await Promise.all(sockets.map((socket) => socket.close()));
  }
}

function describe(result: LoadResult): string {
  return `${result.label}: ${fmt(result.rate)}/s, p50 ${fmt(result.p50, 2)} ms, p99 ${fmt(result.p99, 2)} ms${result.errors ? `, ${result.errors} errors (${result.firstError})` : ''}${spansPerCall(result)}`;
}

/** `, 9.8 spans/call` under --tracing: spans counted in the window per call answered in it. */
function spansPerCall(result: LoadResult): string {
  return result.spans === undefined || !result.ok ? '' : `, ${fmt(result.spans / result.ok, 1)} spans/call`;
}

// ---- phase 2 ----

async function phasePublish(probe: Probe): Promise<void> {
  const { system } = probe;
  const count = OPTIONS.publishers;
  log(`phase 2: notifications.publish, ${count} publishers, each its own topic with 1 connected subscriber`);
  const users = await registerUsers(system, count * 2, 'pub');
  const publishers = await connectAll(system, users.slice(0, count));
  const subscribers = await connectAll(system, users.slice(count));
  const topics = await Promise.all(publishers.map((socket, i) => socket.call('topics.create', { name: `bench topic ${i}` })));
  await Promise.all(subscribers.map((socket, i) => socket.call('topics.subscribe', { topicId: topics[i]!.id })));

  // Push latency: the subscriber's receipt of "p <seq>" against the publish's start (or schedule).
  const startedAt = new Map<number, number>();
  const pushSamples = { current: new Samples() };
  for (const socket of subscribers) {
    socket.onPush = (method, params) => {
      if (method !== 'notification') return;
      const seq = Number((params as { title: string }).title.slice(2));
      const began = startedAt.get(seq);
      if (began === undefined) return;
      startedAt.delete(seq);
      pushSamples.current.add(performance.now() - began);
    };
  }
  let seq = 0;
  const publish = (publisher: number, scheduledAt = performance.now()) => {
    const n = seq++;
    startedAt.set(n, scheduledAt);
    return publishers[publisher]!.call('notifications.publish', { topicId: topics[publisher]!.id, title: `p ${n}`, body: 'bench' });
  };

  /** Peak: closed loop at rising in-flight levels, stopping once more in flight stops paying. */
  const peakSearch = async (levels: (LoadResult & { inFlight: number })[], suffix: string) => {
    let best: (LoadResult & { inFlight: number }) | undefined;
    for (const level of OPTIONS.publishLevels) {
      const result = { ...(await closedLoop(probe, `publish closed loop, ${count}×${level} in flight${suffix}`, count * level, (slot) => publish(slot % count), 1_000, OPTIONS.publishStepMs)), inFlight: count * level };
      levels.push(result);
      log(`  ${describe(result)}${result.batchMean ? `; mean batch ${fmt(result.batchMean, 1)}` : ''}`);
      const previous = best;
      if (!best || result.rate > best.rate) best = result;
      if (previous && result.rate < previous.rate * 1.05) break;
    }
    return best;
  };

  try {
    results.publishPeak = await peakSearch(results.publishLevels, '');
    await sleep(500);
    startedAt.clear();

    // Half the peak, open loop: latency from each call's scheduled time.
    const rate = Math.max(1, Math.floor(results.publishPeak!.rate / 2));
    const samples = new Samples();
    pushSamples.current = new Samples();
    let errors = 0;
    let firstError: string | undefined;
    let ok = 0;
    const outstanding = new Set<Promise<void>>();
    const warmupMs = 1_000;
    let windowSeconds = 0;
    const m = await measured(
      probe,
      () => windowSeconds,
      async () => {
        const start = performance.now();
        const end = start + OPTIONS.openLoopMs;
        let sent = 0;
        for (let now = start; now < end; now = performance.now()) {
          const due = Math.floor(((now - start) / 1000) * rate);
          for (; sent < due; sent += 1) {
            const scheduledAt = start + (sent * 1000) / rate;
            const counted = scheduledAt >= start + warmupMs;
            const call = publish(sent % count, scheduledAt).then(
              () => {
                if (!counted) return;
                ok += 1;
                samples.add(performance.now() - scheduledAt);
              },
              (error: unknown) => {
                if (!counted) return;
                errors += 1;
                firstError ??= (error as Error).message;
              },
            );
            outstanding.add(call);
            void call.finally(() => outstanding.delete(call));
          }
          await sleep(1);
        }
        windowSeconds = (performance.now() - start - warmupMs) / 1000;
        await Promise.race([Promise.all(outstanding), sleep(10_000)]);
      },
    );
    await sleep(300);
    results.publishHalf = {
      label: `publish open loop at ${fmt(rate)}/s`,
      targetRate: rate,
      rate: ok / windowSeconds,
      ok,
      errors,
      ...(firstError ? { firstError } : {}),
      p50: samples.percentile(50),
      p99: samples.percentile(99),
      pushP50: pushSamples.current.percentile(50),
      pushP99: pushSamples.current.percentile(99),
      cpu: m.cpu,
      ...(m.batchMean === undefined ? {} : { batchMean: m.batchMean }),
      ...(m.lagP99 === undefined ? {} : { gatewayLoopLagP99Ms: m.lagP99 }),
      breakdown: m.breakdown,
      ...(m.profiles ? { profiles: m.profiles } : {}),
      ...(m.spans === undefined ? {} : { spans: m.spans }),
    };
    log(`  ${describe(results.publishHalf)}; push p50 ${fmt(results.publishHalf.pushP50, 2)} ms, p99 ${fmt(results.publishHalf.pushP99, 2)} ms${m.batchMean ? `; mean batch ${fmt(m.batchMean, 1)}` : ''}`);

    if (DURABLE) {
      // The second column: the same server reloaded with fsync and synchronous_commit off.
      await setDurability(system, false);
      try {
        await peakSearch(results.publishLevelsFsyncOff, ', fsync off');
      } finally {
        await setDurability(system, true);
      }
      startedAt.clear();
    }
  } finally {
    await Promise.all([...publishers, ...subscribers].map((socket) => socket.close()));
  }
}

/** Reloads the bench's PostgreSQL with fsync and synchronous_commit on or off (no restart needed). */
async function setDurability(system: BenchSystem, durable: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: system.postgres.urlFor('postgres') });
  await client.connect();
  try {
    for (const setting of ['fsync', 'synchronous_commit']) await client.query(`ALTER SYSTEM SET ${setting} = ${durable ? 'on' : 'off'}`);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
  log(`  postgres reloaded: ${durable ? 'durable (fsync on)' : 'fsync off, synchronous_commit off'}`);
}

// ---- phase 3 ----

type Fleet = Awaited<ReturnType<typeof openFleet>>;

/** Worker threads holding `tokens`' connections, `transport` each; resolves once all are open. */
async function openFleet(system: BenchSystem, transport: 'jsonrpc' | 'socket.io', tokens: string[]) {
  const workers: { worker: Worker; size: number }[] = [];
  const share = Math.ceil(tokens.length / OPTIONS.fanoutWorkers);
  for (let i = 0; i < OPTIONS.fanoutWorkers; i += 1) {
    const part = tokens.slice(i * share, (i + 1) * share);
    if (part.length === 0) continue;
    const data: FanoutWorkerData = { gatewayPort: system.gateway.port, transport, tokens: part, connectConcurrency: Math.ceil(OPTIONS.connectConcurrency / OPTIONS.fanoutWorkers) };
    workers.push({ worker: new Worker(new URL('./lib/fanout-worker.ts', import.meta.url), { workerData: data }), size: part.length });
  }
  const began = performance.now();
  const ready = await Promise.all(workers.map(({ worker }) => next(worker, (m): m is Extract<FromWorker, { type: 'ready' }> => m.type === 'ready', 120_000)));
  const seconds = (performance.now() - began) / 1000;
  const failed = ready.reduce((sum, r) => sum + r.failed, 0);
  if (failed) {
    const message = `${failed} of ${tokens.length} ${transport} connections failed: ${ready.find((r) => r.firstError)?.firstError}`;
    results.errors.push(message);
    log(`  !! ${message}`);
  }
  return {
    seconds,
    opened: tokens.length - failed,
    /** Arms every worker with `marker`; resolves with every socket's arrival time (ms since `base`). */
    async arrivals(marker: string, base: bigint): Promise<{ times: number[]; missing: number }> {
      const replies = workers.map(({ worker }) => next(worker, (m): m is Extract<FromWorker, { type: 'arrivals' }> => m.type === 'arrivals' && m.marker === marker, 30_000));
      for (const { worker } of workers) worker.postMessage({ type: 'arm', marker, base } satisfies ToWorker);
      const all = await Promise.all(replies);
      return { times: all.flatMap((r) => [...r.times]), missing: all.reduce((sum, r) => sum + r.missing, 0) };
    },
    async close(): Promise<void> {
      await Promise.all(
        workers.map(async ({ worker }) => {
          const closed = next(worker, (m) => m.type === 'closed', 30_000);
          worker.postMessage({ type: 'close' } satisfies ToWorker);
          await closed.catch(() => undefined);
          await worker.terminate();
        }),
      );
    },
  };
}

function next<T extends FromWorker>(worker: Worker, match: (message: FromWorker) => message is T, timeoutMs: number): Promise<T>;
function next(worker: Worker, match: (message: FromWorker) => boolean, timeoutMs: number): Promise<FromWorker>;
function next(worker: Worker, match: (message: FromWorker) => boolean, timeoutMs: number): Promise<FromWorker> {
  return new Promise((resolveMessage, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`no answer from a fan-out worker within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: FromWorker) => {
      if (!match(message)) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      resolveMessage(message);
    };
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
  });
}

async function phaseFanout(probe: Probe): Promise<void> {
  const { system } = probe;
  const n = OPTIONS.fanoutConnections;
  log(`phase 3: fan-out to ${fmt(n)} JSON-RPC connections (${fmt(n)} distinct users) on one topic`);
  const setup: Record<string, number> = {};
  let began = performance.now();
  const users = await registerUsers(system, n, 'fan');
  setup.registerSeconds = (performance.now() - began) / 1000;
  log(`  registered ${fmt(n)} users directly at auth in ${setup.registerSeconds.toFixed(1)} s`);
  const [owner] = await registerUsers(system, 1, 'owner');
  const [publisher] = await connectAll(system, [owner!]);
  const topic = await publisher!.call('topics.create', { name: 'fan-out topic' });
  began = performance.now();
  await inParallel(n, OPTIONS.setupConcurrency, (i) =>
    postJson(`${system.persist.url}/api/topics/${topic.id}/subscriptions`, {}, system.persist.headers(users[i]!.id)),
  );
  setup.subscribeSeconds = (performance.now() - began) / 1000;
  log(`  subscribed them directly at persist in ${setup.subscribeSeconds.toFixed(1)} s`);

  const memory: NonNullable<Results['fanout']>['memory'] = [];
  /** Opens the N connections of `transport` and records the gateway's memory per idle connection. */
  const openMeasured = async (transport: 'jsonrpc' | 'socket.io', label: string) => {
    const before = await gatewayMemory(probe);
    const fleet = await openFleet(system, transport, users.map((u) => u.token));
    const after = await gatewayMemory(probe);
    const reading = {
      transport: label,
      connections: fleet.opened,
      rssPerConnection: (after.rss - before.rss) / fleet.opened,
      heapPerConnection: (after.heap - before.heap) / fleet.opened,
      connectSeconds: fleet.seconds,
    };
    memory.push(reading);
    log(`  ${fmt(fleet.opened)} ${label} connections open and logged in after ${fleet.seconds.toFixed(1)} s`);
    log(`  gateway memory per idle ${label} connection: RSS ${fmt(reading.rssPerConnection / 1024)} KB, heap ${fmt(reading.heapPerConnection / 1024)} KB`);
    return fleet;
  };

  const base = process.hrtime.bigint();
  /** One publish to the topic: each socket's latency from the publish sent to its `notification` push. */
  const fanoutPublish = async (fleet: Fleet, label: string): Promise<FanoutRun> => {
    const marker = `${label}-${Math.random().toString(36).slice(2, 10)}`;
    const arrivals = fleet.arrivals(marker, base);
    await sleep(50); // the workers are armed before the publish leaves
    const sentAt = Number(process.hrtime.bigint() - base) / 1e6;
    await publisher!.call('notifications.publish', { topicId: topic.id, title: `fanout ${marker}`, body: 'one publish, every subscriber' });
    const replyMs = Number(process.hrtime.bigint() - base) / 1e6 - sentAt;
    const { times, missing } = await arrivals;
    const latencies = times.filter((t) => !Number.isNaN(t)).map((t) => t - sentAt);
    // The follow-ups (unread counts pushed to all, deliveries recorded in persist) finish before the next one.
    await waitIdle(system);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100), missing, replyMs };
  };
  const describeRun = (run: FanoutRun) =>
    `p50 ${fmt(run.p50)} ms, p99 ${fmt(run.p99)} ms, max ${fmt(run.max)} ms, missing ${run.missing}, publish reply ${fmt(run.replyMs)} ms`;

  const runs: FanoutRun[] = [];
  const fleet = await openMeasured('jsonrpc', 'JSON-RPC /ws');
  // The first publish reads the subscribers from persist (the gateway's cache is warm afterwards).
  log(`  warm-up publish (subscriber list read from persist): ${describeRun(await fanoutPublish(fleet, 'warm'))}`);
  let fanoutSeconds = 0;
  const m = await measured(
    probe,
    () => fanoutSeconds,
    async () => {
      const start = performance.now();
      for (let i = 0; i < OPTIONS.fanoutPublishes; i += 1) {
        runs.push(await fanoutPublish(fleet, `run${i}`));
        log(`  publish ${i + 1}: ${describeRun(runs.at(-1)!)}`);
      }
      fanoutSeconds = (performance.now() - start) / 1000;
    },
  );
  await fleet.close();

  // socket.io: the same users, the memory reading and a few publishes for comparison.
  const socketIoRuns: FanoutRun[] = [];
  const ioFleet = await openMeasured('socket.io', 'socket.io (websocket)');
  for (let i = 0; i < Math.min(3, OPTIONS.fanoutPublishes); i += 1) {
    socketIoRuns.push(await fanoutPublish(ioFleet, `io${i}`));
    log(`  socket.io publish ${i + 1}: ${describeRun(socketIoRuns.at(-1)!)}`);
  }
  await ioFleet.close();
  await publisher!.close();

  results.fanout = { connections: n, setup, memory, runs, socketIoRuns, cpu: m.cpu, seconds: fanoutSeconds, breakdown: m.breakdown, ...(m.profiles ? { profiles: m.profiles } : {}) };
}

// ---- report ----

/** `gateway 0.31 (73%)`: CPU ms per call and share of one core, for processes above 5 %. */
function cpuColumns(cpu: Record<string, number>, callsPerSecond: number): string {
  return Object.entries(cpu)
    .filter(([, share]) => share >= 5)
    .sort((a, b) => b[1] - a[1])
    .map(([label, share]) => {
      const ms = (10 * share) / callsPerSecond;
      return `${label} ${fmt(ms, ms >= 1 ? 1 : 3)} (${Math.round(share)}%)`;
    })
    .join(', ');
}

function totalCpuMs(cpu: Record<string, number>, callsPerSecond: number): string {
  const total = Object.entries(cpu).reduce((sum, [label, share]) => (label === 'bench' ? sum : sum + share), 0);
  return fmt((10 * total) / callsPerSecond, 2);
}

function report(): void {
  const out: string[] = ['', `Gateway benchmark (${results.startedAt}; PostgreSQL ${DURABLE ? 'durable' : 'fsync off'}; tracing ${args.tracing ? `on, exported every ${EXPORT_DELAY_MS} ms` : 'off'}; CPU as % of one core, 2 cores)`];
  const t = results.tracing;
  if (t) out.push(`Tracing: ${fmt(t.spans)} spans received in ${fmt(t.requests)} exports (${fmt(t.bytes / 1024 / 1024, 1)} MB of OTLP JSON${t.uncounted ? `; ${t.uncounted} bodies not JSON, not counted` : ''}) at ${t.endpoint}/v1/traces`);
  const rate = (label: string) => results.rpc.find((r) => r.label.startsWith(label));
  if (results.rpc.length) {
    out.push('', `1. RPC throughput (${OPTIONS.rpcConnections} ws × ${OPTIONS.rpcInFlight} in flight; direct: ${OPTIONS.rpcConnections * OPTIONS.rpcInFlight} connections, ${results.directClient})`);
    const pairs: [string, string][] = [
      ['counters.get', 'GET /api/counters'],
      ['users.me', 'GET /api/sessions'],
    ];
    const rows = results.rpc.map((r) => {
      const pair = pairs.find(([gateway]) => r.label.startsWith(gateway));
      const directOf = pair ? rate(pair[1]) : undefined;
      const ratio = directOf ? fmt(r.rate / directOf.rate, 2) : '';
      return [r.label, fmt(r.rate), ratio, fmt(r.p50, 2), fmt(r.p99, 2), String(r.errors), r.gatewayLoopLagP99Ms === undefined ? '-' : fmt(r.gatewayLoopLagP99Ms, 1), totalCpuMs(r.cpu, r.rate), cpuColumns(r.cpu, r.rate)];
    });
    out.push(table(['call', 'calls/s', 'gw/direct', 'p50 ms', 'p99 ms', 'errors', 'gw lag p99', 'system CPU ms/call', 'CPU ms/call (% of a core) by process'], rows));
  }
  if (results.publishLevels.length) {
    out.push('', `2. notifications.publish (${OPTIONS.publishers} publishers, 1 subscriber each; PostgreSQL ${DURABLE ? 'durable' : 'fsync off'})`);
    const batch = (r: LoadResult) => (r.batchMean === undefined ? '-' : fmt(r.batchMean, 1));
    const spans = (r: LoadResult) => (r.spans === undefined || !r.ok ? [] : [fmt(r.spans / r.ok, 1)]);
    const rows = results.publishLevels.map((r) => [`closed loop, ${r.inFlight} in flight`, fmt(r.rate), fmt(r.p50, 1), fmt(r.p99, 1), '', '', String(r.errors), batch(r), ...spans(r), totalCpuMs(r.cpu, r.rate), cpuColumns(r.cpu, r.rate)]);
    const half = results.publishHalf;
    if (half) rows.push([half.label, fmt(half.rate), fmt(half.p50, 1), fmt(half.p99, 1), fmt(half.pushP50, 1), fmt(half.pushP99, 1), String(half.errors), batch(half), ...spans(half), totalCpuMs(half.cpu, half.rate), cpuColumns(half.cpu, half.rate)]);
    out.push(table(['load', 'tx/s', 'p50 ms', 'p99 ms', 'push p50', 'push p99', 'errors', 'mean batch', ...(args.tracing ? ['spans/tx'] : []), 'system CPU ms/tx', 'CPU ms/tx (% of a core) by process'], rows));
    const fast = results.publishLevelsFsyncOff;
    if (fast.length) {
      const peakOf = (levels: LoadResult[]) => levels.reduce((best, r) => Math.max(best, r.rate), 0);
      out.push('', `Publish peak, durable vs fsync off (same server reloaded): ${fmt(peakOf(results.publishLevels))} vs ${fmt(peakOf(fast))} tx/s`);
      out.push(table(['in flight', 'durable tx/s', 'fsync off tx/s', 'durable batch', 'fsync off batch'], fast.map((r) => {
        const durable = results.publishLevels.find((d) => d.inFlight === r.inFlight);
        return [String(r.inFlight), durable ? fmt(durable.rate) : '-', fmt(r.rate), durable ? batch(durable) : '-', batch(r)];
      })));
    }
  }
  const f = results.fanout;
  if (f) {
    out.push('', `3. Fan-out to ${fmt(f.connections)} connections (distinct users; setup: register ${f.setup.registerSeconds?.toFixed(1)} s, subscribe ${f.setup.subscribeSeconds?.toFixed(1)} s)`);
    const summary = (runs: FanoutRun[], label: string) =>
      runs.length
        ? [label, String(runs.length), fmt(median(runs.map((r) => r.p50)), 1), fmt(median(runs.map((r) => r.p99)), 1), fmt(median(runs.map((r) => r.max)), 1), fmt(median(runs.map((r) => r.replyMs)), 1), String(runs.reduce((s, r) => s + r.missing, 0))]
        : [label, '0', '-', '-', '-', '-', '-'];
    out.push(table(['transport', 'publishes', 'p50 ms', 'p99 ms', 'max ms', 'reply ms', 'missing'], [summary(f.runs, 'JSON-RPC /ws'), summary(f.socketIoRuns, 'socket.io')]));
    out.push(`CPU over the JSON-RPC publishes (each waits for the last one's follow-ups), ms per publish (% of a core): ${cpuColumns(f.cpu, f.runs.length / f.seconds)}`);
    out.push('', table(['idle connections', 'count', 'RSS KB/conn', 'heap KB/conn', 'connect s'], f.memory.map((m) => [m.transport, fmt(m.connections), fmt(m.rssPerConnection / 1024, 1), fmt(m.heapPerConnection / 1024, 1), fmt(m.connectSeconds, 1)])));
  }

  const checks: [string, boolean | undefined, string][] = [];
  const cg = rate('counters.get');
  const cd = rate('GET /api/counters');
  const um = rate('users.me');
  const ud = rate('GET /api/sessions');
  if (cg && cd) checks.push(['counters.get ≥ 10,000/s and ≥ 0.6 of direct', cg.rate >= 10_000 && cg.rate / cd.rate >= 0.6, `${fmt(cg.rate)}/s, ${fmt(cg.rate / cd.rate, 2)}`]);
  if (um && ud) checks.push(['users.me ≥ 10,000/s and ≥ 0.6 of direct', um.rate >= 10_000 && um.rate / ud.rate >= 0.6, `${fmt(um.rate)}/s, ${fmt(um.rate / ud.rate, 2)}`]);
  if (results.publishPeak) checks.push([`publish peak ≥ 1,000 tx/s (${DURABLE ? 'durable' : 'fsync off'})`, results.publishPeak.rate >= 1_000, `${fmt(results.publishPeak.rate)} tx/s`]);
  if (results.publishHalf) checks.push(['publish p99 ≤ 50 ms at half the peak', results.publishHalf.p99 <= 50, `${fmt(results.publishHalf.p99, 1)} ms`]);
  if (f?.runs.length) checks.push(['fan-out p99 ≤ 250 ms', median(f.runs.map((r) => r.p99)) <= 250, `${fmt(median(f.runs.map((r) => r.p99)), 1)} ms`]);
  if (f?.memory[0]) checks.push(['≤ 20 KB per idle connection', f.memory[0].rssPerConnection <= 20 * 1024, `${fmt(f.memory[0].rssPerConnection / 1024, 1)} KB`]);
  if (checks.length) out.push('', 'Targets', table(['target', 'met', 'measured'], checks.map(([name, met, value]) => [name, met ? 'yes' : 'NO', value])));

  const breakdowns: [string, number, (HistogramDelta & { service: string })[] | undefined][] = [
    ['counters.get via gateway', rate('counters.get')?.ok ?? 0, rate('counters.get')?.breakdown],
    ['publish at half the peak', results.publishHalf?.ok ?? 0, results.publishHalf?.breakdown],
    ['fan-out publishes', f?.runs.length ?? 0, f?.breakdown],
  ];
  for (const [label, calls, breakdown] of breakdowns) {
    if (!breakdown?.length || calls === 0) continue;
    out.push('', `Step durations from the services' metrics: ${label} (per call: how many of each, mean ms)`);
    out.push(
      table(
        ['service', 'histogram{labels}', 'per call', 'mean ms'],
        breakdown.filter((d) => d.count >= calls * 0.05).map((d) => [d.service, `${d.metric.replace(/_seconds$/, '')}{${d.labels}}`, fmt(d.count / calls, 2), fmt(d.meanMs, 2)]),
      ),
    );
  }

  const profiled: [string, Record<string, ProfileSummary> | undefined][] = [
    ...results.rpc.filter((r) => !r.label.startsWith('GET ')).map((r): [string, Record<string, ProfileSummary> | undefined] => [r.label, r.profiles]),
    ['publish at half the peak', results.publishHalf?.profiles],
    ['fan-out publishes', f?.profiles],
  ];
  for (const [label, profiles] of profiled) {
    for (const [service, profile] of Object.entries(profiles ?? {})) out.push(...profileTables(service, label, profile));
  }
  if (results.errors.length) out.push('', 'Errors:', ...results.errors.map((e) => `  - ${e}`));
  console.log(out.join('\n'));
}

// ---- main ----

/** Re-runs this script with the open-files soft limit raised to the hard one when it is too low. */
async function ensureFileLimit(): Promise<void> {
  const needed = OPTIONS.fanoutConnections + 2_000;
  const { soft, hard } = await openFileLimits();
  if (soft >= needed) return;
  if (hard >= needed && !process.env.BENCH_RAISED_NOFILE) {
    log(`ulimit -n is ${soft}; re-running with ${hard}`);
    const child = spawnSync('/bin/sh', ['-c', `ulimit -n ${hard} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_RAISED_NOFILE: '1' },
    });
    process.exit(child.status ?? 1);
  }
  OPTIONS.fanoutConnections = Math.max(100, Math.min(OPTIONS.fanoutConnections, soft - 2_000));
  log(`!! ulimit -n is ${soft} (hard ${hard}): fan-out reduced to ${OPTIONS.fanoutConnections} connections; raise it with ulimit -n ${needed}`);
}

async function main(): Promise<void> {
  await ensureFileLimit();
  for (const service of ['auth', 'persist', 'counter', 'gateway']) {
    if (!existsSync(resolve(ROOT, service, 'generated/prisma'))) throw new Error(`${service}/generated/prisma is missing: run \`npm run generate\` first`);
  }
  const deadline = setTimeout(() => {
    console.error("!! the benchmark ran over 10 minutes; stopping");
    void stopSystem().finally(() => process.exit(2));
  }, 10 * 60_000);
  deadline.unref();
  const began = performance.now();
  let failed = false;
  let sink: SpanSink | undefined;
  try {
    if (args.tracing) {
      sink = await startSpanSink();
      log(`tracing on: spans go to ${sink.url}/v1/traces (counted, not kept), exported every ${EXPORT_DELAY_MS} ms`);
    }
    const env: Record<string, string> = sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BSP_SCHEDULE_DELAY: EXPORT_DELAY_MS } : {};
    const system = await startSystem({ durablePostgres: DURABLE, log, env });
    const inspectors = new Map<string, Inspector>();
    for (const label of ['gateway', ...PROFILED]) if (!inspectors.has(label)) inspectors.set(label, await Inspector.connect(system.inspectorUrls.get(label)!));
    const probe: Probe = { system, inspectors, ...(sink ? { sink } : {}) };
    const phases = { rpc: phaseRpc, publish: phasePublish, fanout: phaseFanout };
    for (const phase of PHASES.filter((name) => ONLY.includes(name)).map((name) => phases[name])) {
      try {
        await phase(probe);
      } catch (error) {
        // Interrupted (Ctrl-C): the services are going away; the signal handler exits.
        if (isStopping()) await new Promise(() => undefined);
        failed = true;
        results.errors.push(`${phase.name}: ${(error as Error).stack ?? String(error)}`);
        log(`!! ${phase.name} failed: ${(error as Error).message}`);
      }
    }
    for (const inspector of inspectors.values()) inspector.close();
  } catch (error) {
    failed = true;
    results.errors.push(`setup: ${(error as Error).stack ?? String(error)}`);
  } finally {
    log(`stopping the system (ran ${((performance.now() - began) / 1000).toFixed(0)} s)`);
    // Stopped before the report: each service sends its last spans as it stops.
    await stopSystem();
    if (sink) {
      results.tracing = { endpoint: sink.url, exportDelayMs: Number(EXPORT_DELAY_MS), spans: sink.spans, requests: sink.requests, bytes: sink.bytes, uncounted: sink.uncounted };
      await sink.close();
    }
    report();
    if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
  }
  process.exit(failed ? 1 : 0);
}

await main();
