// `npm run bench:avatar [-- options]`: the avatar service against its targets, in a small system of
// its own on 127.0.0.1 (bench/lib/system.ts: a throw-away PostgreSQL, discovery, auth ×2, persist,
// counter, one gateway and the avatar service, on free ports; stopped at the end, on error and on Ctrl-C).
//
// Each run measures, at 128 px, over keep-alive HTTP/1.1 connections (one request in flight each):
// Generated avatars, straight at the avatar service (as the gateway, with its credential):
// 1. cold renders/s: every request a seed never asked for before, so each one is drawn and encoded
//    (identicon and github); meanwhile one more connection asks GET /health every 5 ms, and its
//    latency says whether rendering stalls the event loop;
// 2. cached responses/s: a few hundred avatars rendered beforehand, asked for again and again.
// Uploaded pictures, through the gateway (users upload one 2-megapixel JPEG each with
// PUT /api/v1/me/avatar and their session token; the avatar service pre-renders nothing, PRERENDER_VARIANTS=none):
// 3. cold 128 px WebP variants/s: every request a variant never rendered before, the versioned URL of
//    a (user, fit, grayscale) not asked for yet: distinct users, each with their own uploaded picture,
//    and up to 4 variants of each (fit cover/contain × grayscale false/true; --variants-per-user),
//    the kinds taking turns so that every run asks for as many of each;
//    a fixed number of them per run (--cold-per-run), timed from first to last;
// 4. cached variant responses/s: one user's versioned 128 px WebP URL again and again, which the
//    gateway answers from its cache of immutable variants without asking the avatar service.
// The figures are the medians over the runs. Targets: ≥ 500 cold renders/s, ≥ 10,000 cached
// responses/s, /health p99 ≤ 25 ms during cold renders, ≥ 200 cold picture variants/s and ≥ 10,000
// cached variant responses/s through the gateway (the machine has 2 cores, shared by the system and
// this load generator).
// Options: --runs=N (5), --duration=S seconds measured per phase (2), --connections=N (16),
// --phases=generated,pictures (both), --cold-per-run=N (300), --variants-per-user=N (4),
// --renders=N (the avatar service's MAX_CONCURRENT_RENDERS, generated avatars; default its own),
// --picture-renders=N (its MAX_CONCURRENT_PICTURE_RENDERS, pictures' variants; default its own), --json=FILE,
// --profile (CPU profiles of the avatar service and the gateway over the first run's cold variants).
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { SystemProcess } from '@notify/lib/testing';
import { httpGet, inParallel, KeepAliveConnection, postJson } from './lib/clients.ts';
import { histogramDeltas, scrape, type MetricSnapshot } from './lib/metrics.ts';
import { ClosedLoop, fmt, log, median, Samples, table, type LoadFigures } from './lib/stats.ts';
import { Inspector, profileTables, type ProfileSummary } from './lib/inspector.ts';
import { PHOTOGRAPH, photographPixels } from './lib/photograph.ts';
import { cpuShare, cpuSnapshot, startSystem, stopSystem, type BenchSystem } from './lib/system.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    phases: { type: 'string', default: 'generated,pictures' },
    'cold-per-run': { type: 'string', default: '300' },
    'variants-per-user': { type: 'string', default: '4' },
    renders: { type: 'string' },
    'picture-renders': { type: 'string' },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const PHASES = new Set(args.phases.split(',').map((phase) => phase.trim()));
for (const phase of PHASES) if (phase !== 'generated' && phase !== 'pictures') throw new Error(`--phases: unknown phase ${JSON.stringify(phase)} (generated, pictures)`);

const OPTIONS = {
  runs: Number(args.runs),
  measureMs: Number(args.duration) * 1000,
  warmupMs: 300,
  connections: Number(args.connections),
  size: 128,
  /** Distinct avatars the cached phase cycles through. */
  cachedAvatars: 256,
  healthEveryMs: 5,
  phases: [...PHASES],
  /** Cold picture variants timed per run (after as many again as there are connections, untimed). */
  coldPicturesPerRun: Number(args['cold-per-run']),
  variantsPerUser: Math.min(4, Math.max(1, Number(args['variants-per-user']))),
  /** The uploaded JPEG: 1632 × 1224, 2.0 megapixels. */
  picture: PHOTOGRAPH,
  uploadConcurrency: 4,
  /** MAX_CONCURRENT_RENDERS of the avatar service; undefined: its default (CPU cores − 1). */
  renders: args.renders === undefined ? undefined : Number(args.renders),
  /** MAX_CONCURRENT_PICTURE_RENDERS of the avatar service; undefined: its default (CPU cores). */
  pictureRenders: args['picture-renders'] === undefined ? undefined : Number(args['picture-renders']),
};
const STYLES = ['identicon', 'github'] as const;
/** Processes --profile takes CPU profiles of (the first run's cold picture variants). */
const PROFILED = ['avatar', 'gateway'];
const TARGETS = { coldPerSecond: 500, cachedPerSecond: 10_000, healthP99Ms: 25, coldPicturesPerSecond: 200, cachedPicturesPerSecond: 10_000 };
/** The variants of one user's picture that the cold phase asks for, each once: fit × grayscale, all 128 px WebP. */
const PICTURE_VARIANTS = [
  'fit=cover&grayscale=false',
  'fit=contain&grayscale=false',
  'fit=cover&grayscale=true',
  'fit=contain&grayscale=true',
].slice(0, OPTIONS.variantsPerUser);


interface PhaseResult extends LoadFigures {
  /** Mean draw + encode time from the service's own histogram (cold phases). */
  renderMeanMs?: number;
  health?: { p50: number; p99: number; max: number; count: number };
}

interface Run {
  cold: Record<(typeof STYLES)[number], PhaseResult>;
  cached: PhaseResult;
}

interface PictureRun {
  /** Cold 128 px WebP variants through the gateway; `renders` per request says they were all drawn. */
  cold: PhaseResult & { rendersPerRequest: number };
  /** One versioned variant again and again through the gateway; `hitShare` of its lookups answered from its own cache. */
  cached: PhaseResult & { hitShare: number };
}

const results: {
  startedAt: string;
  options: typeof OPTIONS;
  idleHealth?: { p50: number; p99: number };
  runs: Run[];
  pictures: { setup?: { users: number; pictureBytes: number; uploadSeconds: number; uploadsPerSecond: number; storedBytes?: number }; runs: PictureRun[]; profiles: Record<string, ProfileSummary> };
  errors: string[];
} = {
  startedAt: new Date().toISOString(),
  options: OPTIONS,
  runs: [],
  pictures: { runs: [], profiles: {} },
  errors: [],
};

let system: BenchSystem | undefined;
let avatar: SystemProcess | undefined;
let nextSeed = 0;

/** `count` keep-alive connections to `port` (default: the avatar service's). */
async function connect(count: number, port = avatar!.port): Promise<KeepAliveConnection[]> {
  return Promise.all(Array.from({ length: count }, () => KeepAliveConnection.open(port)));
}

/** A GET of the avatar service as the gateway sends it: only the gateway may call it (its credential, renewed as it ages). */
const asGateway = (path: string) => httpGet(path, avatar!.headers());
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
async function closedLoop(
  connections: KeepAliveConnection[],
  request: () => Buffer,
  options: { health?: KeepAliveConnection; renders?: boolean; processes?: { label: string; pid: number; tree: boolean }[]; gateway?: { before: () => Promise<void>; after: () => Promise<void> } } = {},
): Promise<PhaseResult> {
  const loop = new ClosedLoop(connections.length, async (slot) => {
    const status = await connections[slot]!.request(request());
    if (status !== 200) throw new Error(`status ${status}`);
  });
  await sleep(OPTIONS.warmupMs);
  const processes = options.processes ?? [
    { label: 'avatar', pid: avatar!.process.pid!, tree: false },
    { label: 'bench', pid: process.pid, tree: false },
  ];
  await options.gateway?.before();
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
  await options.gateway?.after();
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

async function oneRun(run: number, connections: KeepAliveConnection[], health: KeepAliveConnection, cachedAvatarPaths: string[]): Promise<Run> {
  const cold = {} as Run['cold'];
  // Built each run: the credential is renewed as it ages.
  const cachedPaths = cachedAvatarPaths.map(asGateway);
  for (const style of STYLES) {
    // A seed never used before, so nothing is cached: every request is drawn and encoded.
    cold[style] = await closedLoop(connections, () => asGateway(avatarPath(`bench${run}-${style}-${nextSeed++}`, style)), { health, renders: true });
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
    `generated avatars at ${OPTIONS.size} px, straight at the avatar service: ${runs.length} runs, ${OPTIONS.connections} connections, ${OPTIONS.measureMs / 1000} s per phase`,
    table(
      ['run', 'cold identicon/s', 'cold github/s', 'cached/s', 'health p99 ms (identicon)', 'health p99 ms (github)', 'render ms (identicon)', 'render ms (github)', 'CPU % avatar / bench (cold identicon, cached)'],
      rows,
    ),
    `/health during cold renders: p50 ${fmt(medians.healthP50, 2)} ms, p99 ${fmt(medians.healthP99, 2)} ms (worse style, median of runs), max ${fmt(medians.healthMax, 1)} ms; idle: p50 ${fmt(results.idleHealth?.p50, 2)} ms, p99 ${fmt(results.idleHealth?.p99, 2)} ms`,
  ];
  const errors = runs.flatMap((r) => [r.cold.identicon, r.cold.github, r.cached]).reduce((sum, p) => sum + p.errors, 0);
  if (errors) out.push(`!! ${errors} failed requests, first: ${runs.flatMap((r) => [r.cold.identicon, r.cold.github, r.cached]).find((p) => p.firstError)?.firstError}`);
  const coldWorst = Math.min(medians.coldIdenticon, medians.coldGithub);
  checks.push(
    [`cold renders ≥ ${fmt(TARGETS.coldPerSecond)}/s (each style)`, coldWorst >= TARGETS.coldPerSecond, `identicon ${fmt(medians.coldIdenticon)}/s, github ${fmt(medians.coldGithub)}/s`],
    [`cached responses ≥ ${fmt(TARGETS.cachedPerSecond)}/s`, medians.cached >= TARGETS.cachedPerSecond, `${fmt(medians.cached)}/s`],
    [`/health p99 ≤ ${TARGETS.healthP99Ms} ms during cold renders`, medians.healthP99 <= TARGETS.healthP99Ms, `${fmt(medians.healthP99, 2)} ms`],
  );
  console.log(out.join('\n'));
}

// ---- Uploaded pictures, through the gateway ----

/** A 2-megapixel JPEG that looks like a photograph to an encoder. */
async function makePicture(): Promise<Buffer> {
  const { width, height } = OPTIONS.picture;
  return sharp(photographPixels(width, height), { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

interface Uploaded {
  id: string;
  /** `<AVATAR_BASE_PATH>/<userId>`, as the upload's avatarUrl names it. */
  base: string;
  version: string;
}

/** Registers `count` users directly at auth, each uploading `picture` through the gateway with their session token. */
async function uploadPictures(sys: BenchSystem, count: number, picture: Buffer): Promise<Uploaded[]> {
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return inParallel(count, OPTIONS.uploadConcurrency, async (i) => {
    const auth = sys.auth[i % sys.auth.length]!;
    const grant = await postJson<{ user: { id: string }; token: string }>(`${auth.url}/api/users`, { email: `pic-${run}-${i}@bench.test`, password: 'bench password 1', name: `pic ${i}` }, auth.headers());
    const response = await fetch(`${sys.gateway.url}/api/v1/me/avatar`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${grant.token}`, 'content-type': 'image/jpeg' },
      body: picture,
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`PUT /api/v1/me/avatar: ${response.status} ${text.slice(0, 300)}`);
    const answer = JSON.parse(text) as { avatarUrl: string; version: string };
    return { id: grant.user.id, base: answer.avatarUrl.split('?')[0]!, version: answer.version };
  });
}

const variantPath = (user: Uploaded, variant: string) => `${user.base}?size=${OPTIONS.size}&format=webp&${variant}&v=${user.version}`;

/** Sum of the samples of `metric` whose labels contain every one of `labels` (a counter's total over those series). */
function counterSum(snapshot: MetricSnapshot, metric: string, labels: string[] = []): number {
  let sum = 0;
  for (const [key, value] of snapshot) if (key.startsWith(`${metric}{`) && labels.every((label) => key.includes(label))) sum += value;
  return sum;
}

/**
 * Each of `paths` once over `connections` (each sends its next when the previous answered): the
 * first `warmup` untimed, the rest timed from the first sent to the last answered.
 */
async function fixedWork(
  connections: KeepAliveConnection[],
  paths: string[],
  warmup: number,
  processes: { label: string; pid: number; tree: boolean }[],
  health: KeepAliveConnection,
): Promise<PictureRun['cold']> {
  const drive = async (list: string[], samples?: Samples) => {
    let next = 0;
    let ok = 0;
    let errors = 0;
    let firstError: string | undefined;
    await Promise.all(
      connections.map(async (connection) => {
        while (next < list.length) {
          const path = list[next++]!;
          const began = performance.now();
          try {
            const status = await connection.request(httpGet(path));
            if (status !== 200) throw new Error(`${path}: status ${status}`);
            ok += 1;
            samples?.add(performance.now() - began);
          } catch (error) {
            errors += 1;
            firstError ??= (error as Error).message;
          }
        }
      }),
    );
    return { ok, errors, firstError };
  };
  await drive(paths.slice(0, warmup));
  const timed = paths.slice(warmup);
  const samples = new Samples();
  const metricsBefore = await scrape(avatar!.url);
  const cpuBefore = await cpuSnapshot(processes);
  let endWindow!: () => void;
  const probing = probeHealth(health, new Promise<void>((resolve) => (endWindow = resolve)));
  const began = performance.now();
  const { ok, errors, firstError } = await drive(timed, samples);
  const seconds = (performance.now() - began) / 1000;
  endWindow();
  const healthSamples = await probing;
  const cpuAfter = await cpuSnapshot(processes);
  const metricsAfter = await scrape(avatar!.url);
  const renders = histogramDeltas(metricsBefore, metricsAfter, 'avatar_render_duration_seconds');
  const rendered = renders.reduce((sum, d) => sum + d.count, 0);
  const drawn = counterSum(metricsAfter, 'avatar_renders_total', ['outcome="ok"']) - counterSum(metricsBefore, 'avatar_renders_total', ['outcome="ok"']);
  return {
    rate: ok / seconds,
    ok,
    errors,
    ...(firstError ? { firstError } : {}),
    p50: samples.percentile(50),
    p99: samples.percentile(99),
    cpu: Object.fromEntries(cpuShare(cpuBefore, cpuAfter, seconds)),
    ...(rendered > 0 ? { renderMeanMs: renders.reduce((sum, d) => sum + d.meanMs * d.count, 0) / rendered } : {}),
    rendersPerRequest: drawn / timed.length,
    health: { p50: healthSamples.percentile(50), p99: healthSamples.percentile(99), max: healthSamples.percentile(100), count: healthSamples.size },
  };
}

/** Setup (users, uploads), then per run: cold picture variants, then one cached variant, all through the gateway. */
async function picturePhases(sys: BenchSystem): Promise<void> {
  const picture = await makePicture();
  const warmup = OPTIONS.connections;
  const perRun = warmup + OPTIONS.coldPicturesPerRun;
  const users = Math.ceil((OPTIONS.runs * perRun) / PICTURE_VARIANTS.length) + 1;
  log(`pictures: ${fmt(users)} users each upload a ${OPTIONS.picture.width}×${OPTIONS.picture.height} JPEG of ${fmt(picture.length)} bytes through the gateway`);
  const began = performance.now();
  const uploaded = await uploadPictures(sys, users, picture);
  const uploadSeconds = (performance.now() - began) / 1000;
  results.pictures.setup = { users, pictureBytes: picture.length, uploadSeconds, uploadsPerSecond: users / uploadSeconds };
  log(`pictures: ${fmt(users)} users registered and uploaded in ${uploadSeconds.toFixed(1)} s (${fmt(users / uploadSeconds)} registrations + uploads/s, ${OPTIONS.uploadConcurrency} at once)`);

  // Every (user, variant) once, in an order that spreads each user's variants apart; the first user is the cached phase's.
  const [cachedUser, ...coldUsers] = uploaded;
  // The four kinds cost sharp different CPU (contain and gray more than cover), so they take turns:
  // every run asks for as many of each, and a user's variants are 1/kinds of the users apart.
  const stride = Math.floor(coldUsers.length / PICTURE_VARIANTS.length);
  const coldPaths = Array.from({ length: coldUsers.length * PICTURE_VARIANTS.length }, (_, k) => {
    const kind = k % PICTURE_VARIANTS.length;
    const user = coldUsers[(Math.floor(k / PICTURE_VARIANTS.length) + kind * stride) % coldUsers.length]!;
    return variantPath(user, PICTURE_VARIANTS[kind]!);
  });
  if (new Set(coldPaths).size !== coldPaths.length) throw new Error('the cold variants repeat one');
  const cachedPath = httpGet(variantPath(cachedUser!, 'fit=cover'));
  const connections = await connect(OPTIONS.connections, sys.gateway.port);
  // The avatar service's own /health, probed straight during the cold variants: pictures use every core.
  const [health] = await connect(1);
  // The cached variant rendered once, and kept by the gateway from its immutable answer.
  for (let i = 0; i < 2; i++) if ((await connections[0]!.request(cachedPath)) !== 200) throw new Error('the cached variant could not be fetched through the gateway');

  const processes = [
    { label: 'gateway', pid: sys.gateway.process.pid!, tree: false },
    { label: 'avatar', pid: avatar!.process.pid!, tree: false },
    { label: 'bench', pid: process.pid, tree: false },
  ];
  // The gateway's own count of versioned variant lookups over the phase: hits / (hits + misses).
  const lookups = { before: { hit: 0, miss: 0 }, after: { hit: 0, miss: 0 } };
  const gatewayLookups = async () => {
    const snapshot = await scrape(sys.gateway.url);
    const count = (result: string) => counterSum(snapshot, 'gateway_cache_requests_total', ['cache="avatar-variant"', `result="${result}"`]);
    return { hit: count('hit'), miss: count('miss') };
  };
  for (let run = 1; run <= OPTIONS.runs; run++) {
    // --profile: the first run's cold phase, as the avatar service's and the gateway's main threads spent it.
    const profiled = args.profile && run === 1 ? await Promise.all(PROFILED.map((label) => Inspector.connect(sys.inspectorUrls.get(label)!))) : [];
    await Promise.all(profiled.map((inspector) => inspector.startProfile()));
    const cold = await fixedWork(connections, coldPaths.slice((run - 1) * perRun, run * perRun), warmup, processes, health!);
    for (const [i, inspector] of profiled.entries()) {
      results.pictures.profiles[PROFILED[i]!] = await inspector.stopProfile();
      inspector.close();
    }
    log(`run ${run}: cold 128 px WebP picture variants through the gateway ${fmt(cold.rate)}/s (${fmt(cold.rendersPerRequest, 2)} renders a request, render ${fmt(cold.renderMeanMs, 2)} ms)`);
    const cached = await closedLoop(connections, () => cachedPath, {
      processes,
      gateway: { before: async () => void (lookups.before = await gatewayLookups()), after: async () => void (lookups.after = await gatewayLookups()) },
    });
    const hit = lookups.after.hit - lookups.before.hit;
    const miss = lookups.after.miss - lookups.before.miss;
    const hitShare = hit + miss > 0 ? hit / (hit + miss) : 0;
    log(`run ${run}: cached picture variant through the gateway ${fmt(cached.rate)}/s (${fmt(100 * hitShare, 0)} % from the gateway's cache)`);
    results.pictures.runs.push({ cold, cached: { ...cached, hitShare } });
  }
  for (const connection of [...connections, health!]) connection.close();
}

function pictureReport(): string[] {
  const runs = results.pictures.runs;
  if (runs.length === 0) return [];
  const setup = results.pictures.setup;
  const cpu = (r: PhaseResult) => `${fmt(r.cpu.gateway, 0)} / ${fmt(r.cpu.avatar, 0)} / ${fmt(r.cpu.bench, 0)}`;
  const rows = runs.map((r, i) => [
    String(i + 1),
    fmt(r.cold.rate),
    fmt(r.cold.p50, 1),
    fmt(r.cold.p99, 1),
    fmt(r.cold.renderMeanMs, 2),
    fmt(r.cold.rendersPerRequest, 2),
    fmt(r.cold.health?.p99, 1),
    fmt(r.cached.rate),
    `${fmt(100 * r.cached.hitShare, 0)} %`,
    `${cpu(r.cold)}; ${cpu(r.cached)}`,
  ]);
  const med = (pick: (r: PictureRun) => number | undefined) => median(runs.map(pick).filter((v): v is number => v !== undefined));
  const medians = { cold: med((r) => r.cold.rate), cached: med((r) => r.cached.rate) };
  rows.push(['median', fmt(medians.cold), fmt(med((r) => r.cold.p50), 1), fmt(med((r) => r.cold.p99), 1), fmt(med((r) => r.cold.renderMeanMs), 2), fmt(med((r) => r.cold.rendersPerRequest), 2), fmt(med((r) => r.cold.health?.p99), 1), fmt(medians.cached), `${fmt(100 * med((r) => r.cached.hitShare), 0)} %`, '']);
  const out = [
    '',
    `uploaded pictures through the gateway at ${OPTIONS.size} px WebP: ${runs.length} runs, ${OPTIONS.connections} connections; cold: ${fmt(OPTIONS.coldPicturesPerRun)} variants timed per run, ` +
      `${PICTURE_VARIANTS.length} per user (${PICTURE_VARIANTS.join('; ')}), PRERENDER_VARIANTS=none, MAX_CONCURRENT_PICTURE_RENDERS ${OPTIONS.pictureRenders ?? 'default'}; cached: one versioned URL for ${OPTIONS.measureMs / 1000} s`,
    setup ? `setup: ${fmt(setup.users)} users registered at auth, each uploading a ${(OPTIONS.picture.width * OPTIONS.picture.height / 1e6).toFixed(1)}-megapixel JPEG (${fmt(setup.pictureBytes)} bytes) with PUT /api/v1/me/avatar: ${setup.uploadSeconds.toFixed(1)} s, ${fmt(setup.uploadsPerSecond)}/s` : '',
    table(['run', 'cold variants/s', 'cold p50 ms', 'cold p99 ms', 'render ms', 'renders / request', 'avatar /health p99 ms (cold)', 'cached/s', 'from gateway cache', 'CPU % gateway / avatar / bench (cold; cached)'], rows),
  ];
  for (const [service, profile] of Object.entries(results.pictures.profiles)) out.push(...profileTables(service, 'run 1, cold picture variants', profile));
  const phases = runs.flatMap((r) => [r.cold, r.cached]);
  const errors = phases.reduce((sum, p) => sum + p.errors, 0);
  if (errors) out.push(`!! ${errors} failed requests, first: ${phases.find((p) => p.firstError)?.firstError}`);
  checks.push(
    [`cold 128 px WebP picture variants ≥ ${fmt(TARGETS.coldPicturesPerSecond)}/s (gateway)`, medians.cold >= TARGETS.coldPicturesPerSecond, `${fmt(medians.cold)}/s`],
    [`cached picture variant ≥ ${fmt(TARGETS.cachedPicturesPerSecond)}/s (gateway)`, medians.cached >= TARGETS.cachedPicturesPerSecond, `${fmt(medians.cached)}/s`],
  );
  return out;
}

/** The targets each report adds: name, met, measured. */
const checks: [string, boolean, string][] = [];

function printTargets(): void {
  const out: string[] = [];
  if (checks.length) out.push('', 'Targets (medians)', table(['target', 'met', 'measured'], checks.map(([name, met, value]) => [name, met ? 'yes' : 'NO', value])));
  if (results.errors.length) out.push('', 'Errors:', ...results.errors.map((e) => `  - ${e}`));
  console.log(out.join('\n'));
}

async function main(): Promise<void> {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the benchmark's system`);
    void stopSystem().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    console.error('!! the benchmark ran over 15 minutes; stopping');
    void stopSystem().finally(() => process.exit(2));
  }, 15 * 60_000);
  deadline.unref();
  const began = performance.now();
  let failed = false;
  try {
    // Nothing pre-rendered after an upload: every cold picture variant is drawn on request.
    system = await startSystem({
      durablePostgres: false,
      log,
      avatarEnv: {
        PRERENDER_VARIANTS: 'none',
        ...(OPTIONS.renders === undefined ? {} : { MAX_CONCURRENT_RENDERS: String(OPTIONS.renders) }),
        ...(OPTIONS.pictureRenders === undefined ? {} : { MAX_CONCURRENT_PICTURE_RENDERS: String(OPTIONS.pictureRenders) }),
      },
    });
    avatar = system.avatar!;
    log(`avatar on ${avatar.url} (pid ${avatar.process.pid}), gateway on ${system.gateway.url}`);

    if (PHASES.has('generated')) {
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
      const cachedPaths = Array.from({ length: OPTIONS.cachedAvatars }, (_, i) => avatarPath(`cached-${i}`, STYLES[i % STYLES.length]!));
      for (const path of cachedPaths) if ((await connections[0]!.request(asGateway(path))) !== 200) throw new Error('warming the cache failed');

      for (let run = 1; run <= OPTIONS.runs; run++) results.runs.push(await oneRun(run, connections, health!, cachedPaths));
      for (const connection of [...connections, health!]) connection.close();
    }
    if (PHASES.has('pictures')) await picturePhases(system);
  } catch (error) {
    failed = true;
    results.errors.push((error as Error).stack ?? String(error));
  } finally {
    report();
    console.log(pictureReport().join('\n'));
    printTargets();
    if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
    await stopSystem();
    log(`done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
  }
  process.exit(failed ? 1 : 0);
}

await main();
