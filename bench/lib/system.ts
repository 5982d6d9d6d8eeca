// The benchmark's own system on 127.0.0.1: a throw-away embedded PostgreSQL (own temp data dir,
// free port), then discovery, auth ×2, persist, counter, one gateway and, when asked for, the avatar
// service as the system's description (TOPOLOGY) has them, as child processes on free ports, all killed at the end, on error and on
// Ctrl-C. Also per-process CPU and memory readings from /proc, which say which process limits a phase.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@notify/lib/dev';
import { CHEAP_PASSWORDS, launchProcess, startSystem as startTopology, TOPOLOGY, type PlannedInstance, type ServiceOverride, type SystemProcess } from '@notify/lib/testing';

export interface BenchSystem {
  postgres: EmbeddedPostgres;
  discovery: SystemProcess;
  auth: SystemProcess[];
  persist: SystemProcess;
  counter: SystemProcess;
  gateway: SystemProcess;
  /** The avatar service, when StartOptions.avatarEnv asked for it. */
  avatar?: SystemProcess;
  /** Each service's inspector (DevTools protocol) WebSocket URL, by label (gateway, counter, persist, auth-1, ...). */
  inspectorUrls: Map<string, string>;
  /** Every process to watch, by label (postgres counts the postmaster and all its children). */
  processes(): { label: string; pid: number; tree: boolean }[];
}

export interface StartOptions {
  /** fsync and synchronous_commit on (a durable server) instead of the test suite's fast settings. */
  durablePostgres: boolean;
  log: (message: string) => void;
  /**
   * The gateway's limits. Default: lifted (throughput, not fairness: its publishers share users,
   * its clients one address); `{}` keeps the shipped ones.
   */
  gatewayEnv?: Record<string, string>;
  /** Settings every service gets (e.g. the OTLP receiver of --tracing). */
  env?: Record<string, string>;
  /** Runs the avatar service too (its own database), with these settings; the gateway waits for it. */
  avatarEnv?: Record<string, string>;
}

/** The limits the throughput phases lift. */
export const UNLIMITED_GATEWAY: Readonly<Record<string, string>> = {
  MAX_INFLIGHT_PER_USER: '100000',
  MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  MAX_CONNECTIONS_PER_USER: '100000',
  CALLS_PER_SECOND_PER_USER: '0',
};

const children: SystemProcess[] = [];
let postgres: EmbeddedPostgres | undefined;
let dataParent: string | undefined;
let stopping: Promise<void> | undefined;

/** Starts everything; on any failure what was started is stopped before the error propagates. */
export async function startSystem(options: StartOptions): Promise<BenchSystem> {
  installExitHandlers();
  const began = Date.now();
  // mkdtemp makes the directory 0700; run as root, PostgreSQL runs as the postgres user, which
  // must be able to walk down to its data directory inside.
  dataParent = await mkdtemp(join(tmpdir(), 'notify-bench-'));
  await chmod(dataParent, 0o711);
  const settings: Record<string, string | number> = options.durablePostgres
    ? { max_connections: 300 }
    : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 300 };
  postgres = await startEmbeddedPostgres({ dataDir: join(dataParent, 'pg'), ephemeral: true, settings });
  options.log(`postgres on port ${postgres.port} (${options.durablePostgres ? 'durable: fsync on' : 'fsync off, synchronous_commit off'})`);

  const pg = postgres;
  const inspectorUrls = new Map<string, string>();
  const services: Record<string, ServiceOverride> = {
    // Cheap argon2 and no registration limit: 10,000 users are created from one address.
    auth: { env: { ...CHEAP_PASSWORDS, REGISTER_MAX_PER_CLIENT: '1000000000' } },
    persist: { instances: 1 },
    counter: { instances: 1 },
    gateway: { instances: 1, env: { ...(options.gatewayEnv ?? UNLIMITED_GATEWAY) } },
    // Its database named here too, whether or not the description gives it one (the same name if it does).
    ...(options.avatarEnv ? { avatar: { instances: 1, env: { DATABASE_URL: pg.urlFor('bench_avatar'), ...options.avatarEnv } } } : {}),
  };
  // A service of one instance is labelled by its name (gateway), one of several by the instance's id (auth-1).
  const labelOf = (instance: PlannedInstance) => ((services[instance.spec.name]?.instances ?? instance.spec.instances) > 1 ? instance.id : instance.spec.name);
  const system = await startTopology(TOPOLOGY, {
    services,
    // Every service gets an inspector on a random loopback port: the bench forces GC before memory
    // readings and takes CPU profiles (--profile) without restarting anything.
    env: { ...options.env, DRAIN_DELAY_MS: '0', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim() },
    database: async (name) => pg.urlFor(`bench_${name}`),
    launch: async (instance, env) => {
      const child = await launchProcess(instance, env, { timeoutMs: 60_000 });
      children.push(child);
      const line = await child.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Debugger listening on ws://'), 5_000);
      inspectorUrls.set(labelOf(instance), String(line.msg).slice('Debugger listening on '.length).trim());
      return child;
    },
  });
  const [discovery, persist, counter, gateway] = ['discovery', 'persist', 'counter', 'gateway'].map((service) => system.of(service)[0]!);
  const [auth1, auth2] = system.of('auth');
  const avatar = options.avatarEnv ? system.of('avatar')[0] : undefined;
  await waitForUpstreams(gateway!, avatar ? ['avatar'] : []);
  options.log(`system up in ${((Date.now() - began) / 1000).toFixed(1)} s (gateway ${gateway!.url})`);

  return {
    postgres: pg,
    discovery: discovery!,
    auth: [auth1!, auth2!],
    persist: persist!,
    counter: counter!,
    gateway: gateway!,
    ...(avatar ? { avatar } : {}),
    inspectorUrls,
    processes: () => [
      { label: 'gateway', pid: gateway!.process.pid!, tree: false },
      { label: 'counter', pid: counter!.process.pid!, tree: false },
      { label: 'persist', pid: persist!.process.pid!, tree: false },
      { label: 'auth-1', pid: auth1!.process.pid!, tree: false },
      { label: 'auth-2', pid: auth2!.process.pid!, tree: false },
      ...(avatar ? [{ label: 'avatar', pid: avatar.process.pid!, tree: false }] : []),
      { label: 'postgres', pid: pg.pid, tree: true },
      { label: 'bench', pid: process.pid, tree: false },
    ],
  };
}

/** The gateway's /status until every upstream reports passing instances (discovery's watch has caught up). */
async function waitForUpstreams(gateway: SystemProcess, more: readonly string[] = []): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = (await (await fetch(`${gateway.url}/status`)).json()) as { dependencies: Record<string, { state: string }> };
    if (['auth', 'persist', 'counter', ...more].every((name) => status.dependencies[name]?.state === 'up')) return;
    if (Date.now() > deadline) throw new Error(`gateway upstreams not ready: ${JSON.stringify(status.dependencies)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** True once the system is being stopped (Ctrl-C, SIGTERM or the end of the run). */
export function isStopping(): boolean {
  return stopping !== undefined;
}

/** Stops the services (SIGTERM, then SIGKILL after 5 s), then PostgreSQL, then removes the temp dir. Idempotent. */
export function stopSystem(): Promise<void> {
  stopping ??= (async () => {
    await Promise.all(
      children.map(async (child) => {
        const timer = setTimeout(() => child.process.kill('SIGKILL'), 5_000);
        await child.stop('SIGTERM');
        clearTimeout(timer);
      }),
    );
    await postgres?.stop();
    if (dataParent) await rm(dataParent, { recursive: true, force: true });
  })();
  return stopping;
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the benchmark's processes`);
    void stopSystem().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  // Last resort (process.exit from anywhere, a crash): no service outlives the bench. PostgreSQL
  // has its own watchdog that stops it and deletes its data directory when we are gone.
  process.once('exit', () => {
    for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  });
}

// ---- /proc readings ----

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) one process has used; 0 once it is gone. */
async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

async function childrenOf(): Promise<Map<number, number[]>> {
  const byParent = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(entry));
      byParent.set(ppid, list);
    } catch {
      // Gone meanwhile.
    }
  }
  return byParent;
}

/** CPU seconds of each watched process (for `tree`, the process and all its descendants). */
export async function cpuSnapshot(processes: { label: string; pid: number; tree: boolean }[]): Promise<Map<string, number>> {
  const tree = processes.some((p) => p.tree) ? await childrenOf() : new Map<number, number[]>();
  const result = new Map<string, number>();
  for (const { label, pid, tree: whole } of processes) {
    const pids = [pid];
    if (whole) for (let i = 0; i < pids.length; i += 1) pids.push(...(tree.get(pids[i]!) ?? []));
    let total = 0;
    for (const one of pids) total += await cpuSeconds(one);
    result.set(label, total);
  }
  return result;
}

/** Share of one core (100 = one full core) each process used between two snapshots. */
export function cpuShare(before: Map<string, number>, after: Map<string, number>, seconds: number): Map<string, number> {
  const share = new Map<string, number>();
  for (const [label, end] of after) share.set(label, (100 * (end - (before.get(label) ?? 0))) / seconds);
  return share;
}

/** Resident set size of a process in bytes (/proc/<pid>/status VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** The soft and hard limits on open files of this process. */
export async function openFileLimits(): Promise<{ soft: number; hard: number }> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const parse = (value: string | undefined) => (value === undefined || value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value));
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}
