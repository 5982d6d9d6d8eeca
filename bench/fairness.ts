// `npm run bench:fairness [-- options]`: what one user's flood costs everyone else at the gateway.
// A victim (one JSON-RPC connection, one call at a time every 25 ms, plus GET /health) is timed while idle,
// then while an attacker user floods: FLOOD_CONNECTIONS connections × FLOOD_DEPTH calls of
// `counters.get` kept in flight each, every answer (or refusal) replaced at once. The same is run
// on a gateway with its shipped limits and on one with them lifted (the state before the limits
// existed). Target: the victim's p99 under the flood within 2× of its idle p99.
// Each configuration runs in a process of its own (a fresh system: embedded PostgreSQL in a temp
// dir, discovery, auth ×2, persist, counter, gateway on free 127.0.0.1 ports, all stopped at the end).
// Options: --duration=S (seconds per phase, default 10), --runs=N (default 3; medians are printed),
// --connections=N (30), --depth=N (64).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { inParallel, postJson, RpcCallError, RpcSocket } from './lib/clients.ts';
import { fmt, log, median, Samples, table } from './lib/stats.ts';
import { startSystem, stopSystem, UNLIMITED_GATEWAY, type BenchSystem } from './lib/system.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '30' },
    depth: { type: 'string', default: '64' },
    child: { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const FLOOD_CONNECTIONS = Number(args.connections);
const FLOOD_DEPTH = Number(args.depth);

/** What one configuration measured (latencies in ms). */
interface Figures {
  idle: VictimFigures;
  flood: VictimFigures;
  attacker: { servedPerSecond: number; refusedPerSecond: number; connectionsRefused: number };
}
interface VictimFigures {
  meP50: number;
  meP99: number;
  countersP99: number;
  healthP99: number;
  calls: number;
}

const CONFIGS = { shipped: {}, lifted: UNLIMITED_GATEWAY } as const;
type ConfigName = keyof typeof CONFIGS;

async function registerUser(system: BenchSystem, name: string): Promise<{ token: string }> {
  const auth = system.auth[0]!;
  const grant = await postJson<{ token: string }>(
    `${auth.url}/api/users`,
    { email: `${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@bench.test`, password: 'bench password 1', name },
    auth.headers(),
  );
  return { token: grant.token };
}

/** A person's pace: one call every 25 ms (40 a second, under the shipped 100 a second per user). */
const VICTIM_INTERVAL_MS = 25;

/**
 * The victim for `ms`: users.me and counters.get in turn on its one connection, one at a time at a
 * person's pace, and GET /health one at a time as fast as it answers.
 */
async function victim(system: BenchSystem, socket: RpcSocket, ms: number): Promise<VictimFigures> {
  const me = new Samples();
  const counters = new Samples();
  const health = new Samples();
  const until = performance.now() + ms;
  const rpcLoop = async () => {
    for (let i = 0; performance.now() < until; i += 1) {
      const began = performance.now();
      const next = began + VICTIM_INTERVAL_MS;
      if (i % 2 === 0) {
        await socket.call('users.me');
        me.add(performance.now() - began);
      } else {
        await socket.call('counters.get');
        counters.add(performance.now() - began);
      }
      const pause = next - performance.now();
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };
  const healthLoop = async () => {
    while (performance.now() < until) {
      const began = performance.now();
      const answer = await request(`${system.gateway.url}/health`);
      await answer.body.dump();
      health.add(performance.now() - began);
    }
  };
  await Promise.all([rpcLoop(), healthLoop()]);
  return { meP50: me.percentile(50), meP99: me.percentile(99), countersP99: counters.percentile(99), healthP99: health.percentile(99), calls: me.size + counters.size };
}

/** One configuration on a fresh system: idle, then flooded. Prints its figures as JSON on the last line. */
async function child(config: ConfigName): Promise<void> {
  const system = await startSystem({ durablePostgres: false, log, gatewayEnv: { ...CONFIGS[config] } });
  try {
    const victimUser = await registerUser(system, 'victim');
    const attacker = await registerUser(system, 'attacker');
    const victimSocket = await RpcSocket.open(system.gateway.port, victimUser.token);
    await victimSocket.call('users.me');
    // Warm up, then the idle baseline.
    await victim(system, victimSocket, 2_000);
    const idle = await victim(system, victimSocket, DURATION_MS);

    let connectionsRefused = 0;
    const opened = await inParallel(FLOOD_CONNECTIONS, 8, async () => {
      try {
        const socket = await RpcSocket.open(system.gateway.port, attacker.token);
        await socket.call('users.me');
        return socket;
      } catch {
        connectionsRefused += 1;
        return undefined;
      }
    });
    const sockets = opened.filter((socket): socket is RpcSocket => socket !== undefined);
    let served = 0;
    let refused = 0;
    let flooding = true;
    const lane = async (socket: RpcSocket) => {
      while (flooding) {
        try {
          await socket.call('counters.get');
          served += 1;
        } catch (error) {
          if (!(error instanceof RpcCallError)) return;
          refused += 1;
        }
      }
    };
    const lanes = sockets.flatMap((socket) => Array.from({ length: FLOOD_DEPTH }, () => lane(socket)));
    // Let the flood reach its stride before timing the victim under it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const [servedBefore, refusedBefore] = [served, refused];
    const flood = await victim(system, victimSocket, DURATION_MS);
    const seconds = DURATION_MS / 1000;
    const attackerFigures = { servedPerSecond: (served - servedBefore) / seconds, refusedPerSecond: (refused - refusedBefore) / seconds, connectionsRefused };
    flooding = false;
    await Promise.all(lanes);
    await Promise.all(sockets.map((socket) => socket.close()));
    await victimSocket.close();
    const figures: Figures = { idle, flood, attacker: attackerFigures };
    process.stdout.write(`\nFIGURES ${JSON.stringify(figures)}\n`);
  } finally {
    await stopSystem();
  }
}

function runChild(config: ConfigName): Figures {
  const result = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, `--child=${config}`, `--duration=${args.duration}`, `--connections=${FLOOD_CONNECTIONS}`, `--depth=${FLOOD_DEPTH}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = result.stdout.split('\n').find((text) => text.startsWith('FIGURES '));
  if (result.status !== 0 || !line) throw new Error(`the ${config} run failed (status ${result.status}):\n${result.stdout.slice(-3000)}`);
  return JSON.parse(line.slice('FIGURES '.length)) as Figures;
}

async function main(): Promise<void> {
  if (args.child) return child(args.child as ConfigName);
  const runs = Number(args.runs);
  log(`fairness: victim alone, then beside one user's ${FLOOD_CONNECTIONS} connections × ${FLOOD_DEPTH} calls in flight; ${args.duration} s per phase, ${runs} run(s) per configuration, in turn`);
  const results: Record<ConfigName, Figures[]> = { shipped: [], lifted: [] };
  for (let run = 1; run <= runs; run += 1) {
    for (const config of Object.keys(CONFIGS) as ConfigName[]) {
      log(`run ${run}/${runs}: ${config} limits`);
      results[config].push(runChild(config));
    }
  }
  const med = (config: ConfigName, pick: (figures: Figures) => number) => median(results[config].map(pick));
  const rows = (Object.keys(CONFIGS) as ConfigName[]).flatMap((config) => [
    [`${config}: idle`, fmt(med(config, (f) => f.idle.meP50), 2), fmt(med(config, (f) => f.idle.meP99), 2), fmt(med(config, (f) => f.idle.countersP99), 2), fmt(med(config, (f) => f.idle.healthP99), 2), '-', '-'],
    [
      `${config}: flooded`,
      fmt(med(config, (f) => f.flood.meP50), 2),
      fmt(med(config, (f) => f.flood.meP99), 2),
      fmt(med(config, (f) => f.flood.countersP99), 2),
      fmt(med(config, (f) => f.flood.healthP99), 2),
      fmt(med(config, (f) => f.attacker.servedPerSecond), 0),
      fmt(med(config, (f) => f.attacker.refusedPerSecond), 0),
    ],
  ]);
  console.log(`\nVictim latency (ms, medians of ${runs} run(s)); attacker calls per second served and refused\n`);
  console.log(table(['gateway', 'users.me p50', 'users.me p99', 'counters.get p99', '/health p99', 'attacker served/s', 'attacker refused/s'], rows));
  for (const config of Object.keys(CONFIGS) as ConfigName[]) {
    const ratios = results[config].map((f) => f.flood.meP99 / f.idle.meP99);
    const healthRatios = results[config].map((f) => f.flood.healthP99 / f.idle.healthP99);
    console.log(
      `${config}: flooded/idle p99, users.me ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}); /health ${healthRatios.map((r) => r.toFixed(2)).join(', ')} (median ${median(healthRatios).toFixed(2)}); attacker connections refused: ${results[config].map((f) => f.attacker.connectionsRefused).join(', ')}`,
    );
  }
  console.log('target: flooded p99 within 2× of idle p99 (ratio ≤ 2)');
}

await main();
