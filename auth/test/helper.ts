// A real auth cluster for tests: a discovery process and auth processes on one fresh database.
import type { TestContext } from 'node:test';
import pg from 'pg';
import { metricSample, spawnService, TEST_DISCOVERY_TOKEN, testDatabase, type ServiceProcess } from '@notify/lib/testing';

export interface AuthCluster {
  discovery: ServiceProcess;
  nodes: ServiceProcess[];
  databaseUrl: string;
  /** Starts one more auth node (e.g. to replace a killed one); `env` adds to the cluster's. */
  startNode(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Every log line of every auth node started so far. */
  logs(): Record<string, unknown>[];
}

export interface AuthClusterOptions {
  nodes?: number;
  env?: Record<string, string>;
  /** The database's time zone (ALTER DATABASE … SET timezone), set before any node connects. */
  timezone?: string;
}

export async function startAuthCluster(t: TestContext, options: AuthClusterOptions = {}): Promise<AuthCluster> {
  const db = await testDatabase(t);
  if (options.timezone) {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${db.name}" SET timezone = '${options.timezone.replaceAll("'", "''")}'`);
    } finally {
      await admin.end();
    }
  }
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const started: ServiceProcess[] = [];
  const startNode = async (env: Record<string, string> = {}) => {
    const node = await spawnService(
      // No mailer runs in these tests: welcome emails are the gateway tests' business.
      { entry: 'auth/src/server.ts', env: { DATABASE_URL: db.url, DISCOVERY_URL: discovery.url, WELCOME_EMAILS: 'false', ...options.env, ...env } },
      t,
    );
    started.push(node);
    return node;
  };
  // The first node applies the migrations; the rest start together (they would also wait on the lock).
  const nodes = [await startNode()];
  nodes.push(...(await Promise.all(Array.from({ length: (options.nodes ?? 2) - 1 }, () => startNode()))));
  // Each node must see the others before a write can reach them.
  await waitFor(async () => {
    const entries = (await (await fetch(`${discovery.url}/v1/health/service/auth?passing`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as unknown[];
    return entries.length === nodes.length;
  });
  return { discovery, nodes, databaseUrl: db.url, startNode, logs: () => started.flatMap((node) => node.logs) };
}

/** A pg client on the cluster's database, closed after the test. */
export async function sql(t: TestContext, cluster: AuthCluster): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  t.after(() => client.end());
  return client;
}

export async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  /** Sent as X-Forwarded-For: the client only for a node that trusts loopback proxies (TRUST_PROXY=loopback). */
  client?: string;
  headers?: Record<string, string>;
  /** The calling service whose credential is sent (default: the gateway); null sends none. */
  as?: string | null;
}

/** JSON request to a node, signed as `as`; `token` goes in Authorization, `client` in X-Forwarded-For. */
export async function call<T = Record<string, unknown>>(node: ServiceProcess, method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(options.as === null ? {} : node.headers(undefined, options.as ?? 'gateway')), ...options.headers };
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.client) headers['x-forwarded-for'] = options.client;
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers,
    ...(options.rawBody !== undefined ? { body: options.rawBody } : options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** The value of one sample line of a node's /metrics, or 0. */
export const metric = async (node: ServiceProcess, name: string, labels: Record<string, string> = {}): Promise<number> => (await metricSample(node, name, labels)) ?? 0;

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
