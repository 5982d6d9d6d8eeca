// `npm start`: the whole system on one machine, as the system's description (TOPOLOGY in
// lib/src/testing/topology.ts) has it. First every port it will use is checked free (or the start
// stops naming the port and its holder) and Prisma clients are generated if their schema changed;
// then embedded PostgreSQL (unless DATABASE_URL is set), and startSystem() starts discovery and every
// service instance as its own supervised process; a ready banner once each of ITS instances is
// passing; Ctrl-C (or SIGTERM) stops everything, services first, PostgreSQL last. An instance that
// dies is started again, loudly, unless it keeps dying.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createDatabase, databaseUrl, generatePrismaClient, startEmbeddedPostgres, type EmbeddedPostgres } from '@notify/lib/dev';
import { planSystem, startSystem, type LaunchedInstance, type PlannedInstance } from '../lib/src/testing/start-system.ts';
import { titleOf, TOPOLOGY } from '../lib/src/testing/topology.ts';
import { Child } from './launcher/child-process.ts';
import { launcherConfig } from './launcher/config.ts';
import { plannedPorts, portIsFree, takenPorts } from './launcher/ports.ts';
import { RestartPolicy } from './launcher/restart-policy.ts';
import { localPrometheusConfig, prometheusInstalled, promtoolHasConsulSd } from './launcher/prometheus.ts';
import { registryTokens } from './launcher/registry-tokens.ts';

const root = resolve(import.meta.dirname, '..');
process.chdir(root);

const STOP_GRACE_MS = 10_000;
/** The embedded server's connection limit: the pools of every instance below add up to about half of it. */
export const POSTGRES_MAX_CONNECTIONS = 200;
const READY_TIMEOUT_MS = 120_000;
const host = launcherConfig.ADVERTISE_ADDRESS;
/** Every instance of this run signs its internal calls with it; nothing outside the run knows it. */
const serviceSecret = launcherConfig.SERVICE_SECRET ?? randomBytes(32).toString('base64url');
/** Every instance this run starts, in start order (discovery first), on its port after PORT_OFFSET. */
const PLAN = planSystem(TOPOLOGY, { portOffset: launcherConfig.PORT_OFFSET });
const [DISCOVERY, ...SERVICES] = PLAN as [PlannedInstance, ...PlannedInstance[]];
/** The registry's ACL tokens: each service may register only itself; nothing outside the run knows them. */
const tokens = registryTokens(SERVICES.map((instance) => instance.spec.name), launcherConfig.DISCOVERY_MANAGEMENT_TOKEN);
const dataRoot = resolve(root, launcherConfig.NOTIFY_DATA_DIR);
/** Where the banner tells a person to find the management token (for curl on the registry). */
const managementTokenFile = resolve(dataRoot, 'discovery-management-token');
const discoveryUrl = `http://${host}:${DISCOVERY.port}`;
const log = (message: string) => process.stdout.write(`${'launcher'.padEnd(width())} | ${message}\n`);

function width(): number {
  return Math.max('launcher'.length, 'postgres'.length, 'prometheus'.length, ...PLAN.map((instance) => instance.id.length));
}

let postgres: EmbeddedPostgres | undefined;
const children: Child[] = [];
/** The child started for each instance id, to tell our instances from another run's. */
const started = new Map<string, Child>();
let shuttingDown: Promise<void> | undefined;

async function shutdown(reason: string, code: number): Promise<never> {
  shuttingDown ??= (async () => {
    log(`stopping everything (${reason})`);
    for (const child of children) child.expectExit();
    // Services first, in reverse start order, so nothing loses its registry or database mid-request.
    for (const child of [...children].reverse()) await child.stop(STOP_GRACE_MS);
    if (postgres) {
      await postgres.stop();
      log('postgres stopped');
    }
    log('all stopped');
  })();
  await shuttingDown;
  process.exit(code);
}

const restarts = new RestartPolicy({ maxCrashes: launcherConfig.RESTART_MAX_CRASHES, windowMs: launcherConfig.RESTART_WINDOW_MS });

/**
 * An instance died: it is started again after a pause (the others go on; their breakers and
 * discovery route around it meanwhile), and the log says so loudly. An instance dying again and
 * again within RESTART_WINDOW_MS is a fault restarts will not fix: everything stops, exit 1.
 */
function onUnexpectedExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
  if (shuttingDown) return;
  const how = signal ?? `code ${code}`;
  const decision = restarts.onDeath(child.spec.label);
  const window = `${launcherConfig.RESTART_WINDOW_MS / 1000} s`;
  if (!decision.restart) {
    log(`!! ${child.spec.label} died (${how}) ${decision.recent} times within ${window}: giving up; see its lines above`);
    void shutdown(`${child.spec.label} keeps dying`, 1);
    return;
  }
  log(`!! ${child.spec.label} died (${how}); restarting it in ${(decision.inMs / 1000).toFixed(1)} s (death ${decision.recent} of ${launcherConfig.RESTART_MAX_CRASHES} allowed within ${window})`);
  const diedAt = Date.now();
  setTimeout(() => {
    if (shuttingDown) return;
    child.start({ RESTARTS: String(restarts.restarts(child.spec.label)) });
    void announceReturn(child, diedAt);
  }, decision.inMs).unref();
}

/** Logs once a restarted instance is registered and passing again (or that it is not, after a while). */
async function announceReturn(child: Child, diedAt: number): Promise<void> {
  const instance = PLAN.find((candidate) => candidate.id === child.spec.label);
  if (!instance) return;
  const pid = child.pid;
  try {
    await waitFor(child.spec.label, async () => {
      if (child.pid !== pid) return true; // died again meanwhile: that death is reported by itself
      const health = await request(`http://${host}:${instance.port}/health`, { signal: AbortSignal.timeout(5_000) });
      await health.body.dump();
      const { body: about } = await getJson(`http://${host}:${instance.port}/status`);
      return health.statusCode === 200 && (about as { pid?: unknown }).pid === pid ? true : undefined;
    });
    if (child.pid === pid) log(`${child.spec.label} is back (pid ${pid}), ${((Date.now() - diedAt) / 1000).toFixed(1)} s after it died; restarted ${restarts.restarts(child.spec.label)} time(s) in this run`);
  } catch {
    log(`!! ${child.spec.label} restarted but is not passing its health check yet; see its lines above`);
  }
}

async function startDatabase(): Promise<{ serverUrl: string; description: string }> {
  if (launcherConfig.DATABASE_URL) {
    return { serverUrl: launcherConfig.DATABASE_URL, description: 'DATABASE_URL (external)' };
  }
  const dataDir = resolve(dataRoot, 'postgres');
  mkdirSync(dataRoot, { recursive: true });
  const port = launcherConfig.EMBEDDED_POSTGRES_PORT + launcherConfig.PORT_OFFSET;
  // Every pool together stays under this (the README's connection budget).
  postgres = await startEmbeddedPostgres({ dataDir, port, settings: { max_connections: POSTGRES_MAX_CONNECTIONS }, log: (message) => process.stdout.write(`${'postgres'.padEnd(width())} | ${message}\n`) });
  return { serverUrl: postgres.url, description: `embedded, data in ${dataDir}` };
}

/**
 * Starts `instance` as a supervised child with `env` (what startSystem composed for it) over this
 * process's environment. Discovery is awaited (its /status names this child's pid: another system's
 * registry must not pass for ours); the others are waited for together once all are started.
 */
async function launch(instance: PlannedInstance, env: Record<string, string>): Promise<LaunchedInstance> {
  const child = new Child({ label: instance.id, entry: instance.spec.entry, env: { ...process.env, ...env } }, children.length, width(), onUnexpectedExit);
  children.push(child);
  started.set(instance.id, child);
  child.start();
  if (instance.id === DISCOVERY.id) {
    await waitFor('discovery', async () => ((await getJson(`${discoveryUrl}/status`)).body as { pid?: unknown }).pid === child.pid || undefined);
  }
  return { port: instance.port, ports: instance.extraPorts, stop: () => child.stop(STOP_GRACE_MS) };
}

/** GET `url` through undici (fetch refuses ports such as persist's 6000): status and parsed JSON body. */
async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const answer = await request(url, { headers, signal: AbortSignal.timeout(5_000) });
  const text = await answer.body.text();
  return { status: answer.statusCode, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Prisma clients of every workspace with a schema, generated only when the schema changed. */
async function generateClients(): Promise<void> {
  const workspaces = [...new Set(SERVICES.map((instance) => instance.spec.entry.split('/')[0]!))].filter((dir) => existsSync(resolve(root, dir, 'prisma/schema.prisma')));
  const results = await Promise.all(
    workspaces.map(async (dir) => [dir, await generatePrismaClient({ schema: resolve(root, dir, 'prisma/schema.prisma'), cwd: resolve(root, dir), inheritOutput: false })] as const),
  );
  const generated = results.filter(([, result]) => result === 'generated').map(([dir]) => dir);
  log(generated.length ? `prisma clients generated for ${generated.join(', ')}` : 'prisma clients up to date');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (shuttingDown) await shuttingDown;
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`${what} not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

/**
 * Resolves once discovery lists every instance of `SERVICES` as passing AND each of them is the
 * process this run started (its /status names the child's pid): another system's instances with
 * the same ids must not pass for ours.
 */
async function allPassing(): Promise<void> {
  const byService = Map.groupBy(SERVICES, (instance) => instance.spec.name);
  const confirmed = new Set<string>();
  await waitFor('services', async () => {
    for (const [service, instances] of byService) {
      const { body } = await getJson(`${discoveryUrl}/v1/health/service/${service}?passing`, { 'x-consul-token': tokens.management });
      const passing = new Map((body as { Service: { ID: string; Address: string; Port: number } }[]).map((entry) => [entry.Service.ID, entry.Service]));
      for (const instance of instances) {
        if (confirmed.has(instance.id)) continue;
        const entry = passing.get(instance.id);
        if (!entry) return undefined;
        const { body: status } = await getJson(`http://${entry.Address}:${entry.Port}/status`);
        if ((status as { pid?: unknown }).pid !== started.get(instance.id)?.pid) return undefined;
        confirmed.add(instance.id);
      }
    }
    return true;
  });
}

function banner(started: number, database: string, prometheus: string): string {
  const rows = PLAN.map((instance) => `  ${instance.id.padEnd(width())}  http://${host}:${instance.port}  ${titleOf(instance.spec, instance.n)}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  return [
    '',
    `  notify platform is up in ${seconds} s: ${PLAN.length} instance(s) registered and passing`,
    '',
    ...rows,
    `  ${'postgres'.padEnd(width())}  ${database}`,
    '',
    ...pageLine('client', 'open:      ', 'the React client, in a browser'),
    ...pageLine('smtp-sink', 'mail:      ', 'the email the system sent'),
    prometheus,
    `  registry:   curl -H "X-Consul-Token: $(cat ${managementTokenFile.startsWith(`${root}${sep}`) ? relative(root, managementTokenFile) : managementTokenFile})" ${discoveryUrl}/v1/catalog/services  (ACLs: default deny)`,
    `  dashboards: http://${host}:<port>/dashboard   metrics: /metrics   status: /status`,
    '  Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/** A banner line pointing a person at the first instance of `service`, when it runs. */
function pageLine(service: string, label: string, what: string): string[] {
  const instance = SERVICES.find((candidate) => candidate.spec.name === service);
  return instance ? [`  ${label} http://${host}:${instance.port}/  (${what})`] : [];
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  process.once('SIGINT', () => void shutdown('Ctrl-C', 0));
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));

  // Before anything else: a taken port would otherwise surface as a child's crash (or, worse, as
  // another system's instances answering our readiness checks).
  const runsPrometheus = launcherConfig.RUN_PROMETHEUS && prometheusInstalled();
  const taken = await takenPorts(launcherConfig.HOST, plannedPorts(launcherConfig, runsPrometheus));
  if (taken.length) {
    for (const line of taken) log(`!! ${line}`);
    log('!! not started: stop what holds the port(s), or run beside it with PORT_OFFSET (e.g. 10500)');
    process.exit(1);
  }
  await generateClients();

  const { serverUrl, description } = await startDatabase();
  mkdirSync(dataRoot, { recursive: true });
  writeFileSync(managementTokenFile, tokens.management, { mode: 0o600 });
  await startSystem(TOPOLOGY, {
    portOffset: launcherConfig.PORT_OFFSET,
    host: launcherConfig.HOST,
    advertise: host,
    serviceSecret,
    operatorToken: launcherConfig.OPERATOR_TOKEN,
    registry: tokens,
    // Each service's own database on the server, created before anything starts.
    database: async (name) => {
      await createDatabase(serverUrl, name);
      return databaseUrl(serverUrl, name);
    },
    launch,
  });
  await allPassing();
  const prometheus = await startPrometheus();
  process.stdout.write(`${banner(startedAt, `${redact(serverUrl)} (${description})`, prometheus)}\n`);
}

/**
 * Prometheus (monitoring/), when its binary is on PATH and RUN_PROMETHEUS allows: its configuration
 * pointed at this run's discovery, its data under NOTIFY_DATA_DIR. Resolves with the banner's line.
 */
async function startPrometheus(): Promise<string> {
  if (!launcherConfig.RUN_PROMETHEUS) return '  metrics:    Prometheus off (RUN_PROMETHEUS=false)';
  if (!prometheusInstalled()) return '  metrics:    Prometheus not found (apt-get install -y prometheus to graph this run)';
  const dir = resolve(dataRoot, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const config = resolve(dir, 'prometheus.yml');
  let operatorTokenFile: string | undefined;
  if (launcherConfig.OPERATOR_TOKEN) {
    operatorTokenFile = resolve(dir, 'operator-token');
    writeFileSync(operatorTokenFile, launcherConfig.OPERATOR_TOKEN, { mode: 0o600 });
  }
  const discoveryTokenFile = resolve(dir, 'discovery-token');
  writeFileSync(discoveryTokenFile, tokens.read, { mode: 0o600 });
  writeFileSync(config, localPrometheusConfig({ discoveryUrl, consulSd: promtoolHasConsulSd() === true, operatorTokenFile, discoveryTokenFile }));
  const port = launcherConfig.PROMETHEUS_PORT + launcherConfig.PORT_OFFSET;
  const url = `http://${host}:${port}`;
  // Another Prometheus (Debian's package starts one on 9090) must not be taken for ours.
  if (!(await portIsFree(launcherConfig.HOST, port))) return `  metrics:    port ${port} is taken (another Prometheus?); ours not started (set PROMETHEUS_PORT)`;
  const child = new Child(
    { label: 'prometheus', entry: 'scripts/launcher/prometheus-runner.ts', env: process.env, args: [config, resolve(dir, 'data'), `${launcherConfig.HOST}:${port}`] },
    children.length,
    width(),
    // Optional: the system goes on without it.
    (_child, code, signal) => log(`!! prometheus exited (${signal ?? `code ${code}`}); the system goes on without it`),
  );
  children.push(child);
  child.start();
  try {
    await waitFor('prometheus', async () => {
      const answer = await request(`${url}/-/ready`, { signal: AbortSignal.timeout(5_000) });
      await answer.body.dump();
      return answer.statusCode === 200 ? true : undefined;
    });
  } catch {
    return `  metrics:    Prometheus did not become ready on ${url}; see its lines above`;
  }
  return `  metrics:    ${url}/  (Prometheus: every instance, found through discovery; rules from monitoring/)`;
}

/** A connection URL with its password hidden, for printing. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

main().catch((error: unknown) => {
  log(`!! start failed: ${(error as Error).message}`);
  void shutdown('start failed', 1);
});
