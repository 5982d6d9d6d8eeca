// A chaos run: the system of separate processes under load across two gateways, a SIGKILL and
// restart of each kind of instance in turn (PostgreSQL included), then the invariants. Reports a
// row per kill (failed calls by code, how long errors went on after the instance was back) and the
// most PostgreSQL connections each instance held, sampled throughout.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startLoad, type CallRecord, type Load, type LoadOptions } from './load.ts';
import { checkInvariants, openTransactions } from './invariants.ts';
import { startChaosSystem, type ChaosSystem, type Kind } from './system.ts';

/** A kill target: an instance id, or `postgres`. */
export type Target = `${Kind}-${number}` | 'postgres';

export interface ChaosOptions {
  /** Killed in this order, one at a time. */
  targets: Target[];
  /** How long a killed target stays down before it is started again (ms). */
  downMs: number;
  /** How long the load runs after a target is back before the next kill (ms). */
  settleMs: number;
  load: LoadOptions;
  log?: (line: string) => void;
}

export interface KillRow {
  target: Target;
  killedAt: number;
  backAt: number;
  /** Failed calls that ended between this kill and the next, by code. */
  failed: Record<string, number>;
  /** From the target being back to the last failure of a call begun since (0 when none failed). */
  errorWindowMs: number;
}

export interface ChaosReport {
  kills: KillRow[];
  calls: { publishes: number; acks: number; ok: number; failed: number; duplicatePushes: number };
  violations: string[];
  /** Instance id → most connections held at once (sampled), and its budget. */
  connections: { id: string; max: number; budget: number }[];
  /** Time from the last kill's end to every transaction being finished (ms). */
  quiesceMs: number;
  /** The error lines the services logged, most frequent first: "<kind>: <message>" and how many. */
  errorLines: [string, number][];
  /** The seconds of the run (from the load's start) whose calls took longest: second, slowest call (ms), calls. */
  slowestSeconds: { second: number; maxMs: number; calls: number }[];
}

/** Samples pg_stat_activity every 200 ms: the most connections each application_name held. */
function sampleConnections(system: ChaosSystem): { max: Map<string, number>; stop(): Promise<void> } {
  const max = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const client = new pg.Client({ connectionString: system.urlFor('postgres', 'chaos-sampler'), connectionTimeoutMillis: 1_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        while (running) {
          const { rows } = await client.query<{ name: string; n: number }>("SELECT application_name AS name, count(*)::int AS n FROM pg_stat_activity WHERE application_name <> '' GROUP BY 1");
          for (const { name, n } of rows) max.set(name, Math.max(max.get(name) ?? 0, n));
          await sleep(200);
        }
      } catch {
        await sleep(200); // PostgreSQL is down: sample again once it is back
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  })();
  return {
    max,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  log('starting the system: PostgreSQL, discovery, auth ×2, persist ×2, counter ×2, gateway ×2');
  const system = await startChaosSystem();
  const sampler = sampleConnections(system);
  let load: Load | undefined;
  try {
    const gatewayPorts = () => system.gateways().map((gateway) => gateway.port);
    const running = await startLoad(gatewayPorts, options.load);
    load = running;
    const loadStartedAt = Date.now();
    log(`load: ${options.load.users} users, ${options.load.publishers} publishers every ${options.load.publishEveryMs} ms, acks on ${options.load.ackShare * 100}% of pushes`);
    await sleep(options.settleMs);

    const periods: { target: Target; killedAt: number; backAt: number }[] = [];
    for (const target of options.targets) {
      const killedAt = Date.now();
      if (target === 'postgres') await system.postgres.kill();
      else await system.kill(instanceOf(system, target));
      log(`killed ${target} (SIGKILL)`);
      await sleep(options.downMs);
      if (target === 'postgres') await system.postgres.restart();
      else await system.start(instanceOf(system, target));
      const backAt = Date.now();
      log(`${target} is back after ${((backAt - killedAt) / 1000).toFixed(1)} s`);
      periods.push({ target, killedAt, backAt });
      await sleep(options.settleMs);
    }
    await load.stop();
    const stoppedAt = Date.now();
    log(`load stopped: ${load.records.length} calls answered or given up; waiting for every transaction to finish`);
    for (;;) {
      const open = await openTransactions((database) => system.urlFor(database));
      if (open.coordinator + open.persist + open.counter === 0) break;
      if (Date.now() - stoppedAt > 120_000) break; // reported as violations below
      await sleep(250);
    }
    const quiesceMs = Date.now() - stoppedAt;
    await sampler.stop();

    const violations = await checkInvariants((database) => system.urlFor(database), load.records, load.users);
    const kills = periods.map((period, i) => killRow(period, periods[i + 1]?.killedAt ?? Infinity, running.records));
    const connections = system.instances
      .filter((instance) => instance.connectionBudget > 0)
      .map((instance) => ({ id: instance.id, max: sampler.max.get(instance.id) ?? 0, budget: instance.connectionBudget }));
    for (const { id, max, budget } of connections) if (max > budget) violations.push(`${id} held ${max} PostgreSQL connections at once (budget ${budget})`);
    const ok = load.records.filter((record) => record.outcome === 'ok').length;
    const errorLines = [...system.errorLines()].sort((a, b) => b[1] - a[1]);
    return {
      slowestSeconds: slowestSeconds(load.records, loadStartedAt),
      errorLines,
      kills,
      calls: {
        publishes: load.records.filter((record) => record.method === 'notifications.publish').length,
        acks: load.records.filter((record) => record.method === 'notifications.ack').length,
        ok,
        failed: load.records.length - ok,
        duplicatePushes: load.duplicatePushes(),
      },
      violations,
      connections,
      quiesceMs,
    };
  } finally {
    // Whatever failed: no user, sampler or process may outlive the run.
    await load?.stop();
    await sampler.stop();
    await system.stop();
  }
}

function instanceOf(system: ChaosSystem, id: string) {
  const instance = system.instances.find((candidate) => candidate.id === id);
  if (!instance) throw new Error(`no instance ${id} in the chaos system`);
  return instance;
}

function killRow(period: { target: Target; killedAt: number; backAt: number }, until: number, records: CallRecord[]): KillRow {
  const failures = records.filter((record) => record.outcome !== 'ok' && record.endedAt >= period.killedAt && record.endedAt < until);
  const failed: Record<string, number> = {};
  for (const failure of failures) failed[failure.outcome] = (failed[failure.outcome] ?? 0) + 1;
  // CONFLICT is the system answering, not failing (already acknowledged; claimed by a mark-all-read
  // racing the ack): it is listed, but does not stretch the error window. Nor does a call begun
  // while the target was down: it may end later, at its own deadline, on a machine slow enough
  // (a 30 s time-out under load), without saying anything about calls made once it was back.
  const afterBack = failures.filter((failure) => failure.outcome !== 'CONFLICT' && failure.startedAt >= period.backAt);
  const last = Math.max(period.backAt, ...afterBack.map((failure) => failure.endedAt));
  return { ...period, failed, errorWindowMs: last - period.backAt };
}

/** Calls grouped by the second (since the load started) they began in; the five slowest seconds. */
function slowestSeconds(records: CallRecord[], since: number): ChaosReport['slowestSeconds'] {
  const bySecond = Map.groupBy(records, (record) => Math.floor((record.startedAt - since) / 1_000));
  return [...bySecond]
    .map(([second, calls]) => ({ second, maxMs: Math.max(...calls.map((call) => call.endedAt - call.startedAt)), calls: calls.length }))
    .sort((a, b) => b.maxMs - a.maxMs)
    .slice(0, 5);
}

/** The report as text: the per-kill table, the calls, the connections, the violations. */
export function formatReport(report: ChaosReport): string {
  const lines = ['', '| killed | down (s) | failed calls after the kill, by code | errors after it was back (s) |', '|---|---|---|---|'];
  for (const row of report.kills) {
    const failed = Object.entries(row.failed).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
    lines.push(`| ${row.target} | ${((row.backAt - row.killedAt) / 1000).toFixed(1)} | ${failed} | ${(row.errorWindowMs / 1000).toFixed(1)} |`);
  }
  lines.push('', `calls: ${report.calls.publishes} publishes, ${report.calls.acks} acks; ${report.calls.ok} ok, ${report.calls.failed} failed; ${report.calls.duplicatePushes} notification push(es) received twice`);
  lines.push(`slowest seconds of the load (second: slowest call): ${report.slowestSeconds.map(({ second, maxMs, calls }) => `${second} s: ${maxMs} ms of ${calls} calls`).join('; ')}`);
  lines.push(`every transaction finished ${(report.quiesceMs / 1000).toFixed(1)} s after the load stopped`);
  lines.push(`most PostgreSQL connections held at once (budget): ${report.connections.map(({ id, max, budget }) => `${id} ${max} (${budget})`).join(', ')}`);
  lines.push(`error lines logged by the services: ${report.errorLines.length ? '' : 'none'}`);
  for (const [line, n] of report.errorLines.slice(0, 15)) lines.push(`  ${n} × ${line}`);
  lines.push(report.violations.length ? `VIOLATIONS (${report.violations.length}):\n  ${report.violations.slice(0, 50).join('\n  ')}` : 'invariants: 0 violations');
  return lines.join('\n');
}
