// persist (and counter) as real processes on fresh databases, with discovery, plus a minimal
// test driver of two-phase commit standing in for the gateway's coordinator.
import type { TestContext } from 'node:test';
import { sendRaw, spawnService, testDatabase, type ServiceProcess } from '@notify/lib/testing';

export interface Cluster {
  discovery: ServiceProcess;
  persist: ServiceProcess;
  counter: ServiceProcess;
  persistDatabaseUrl: string;
  counterDatabaseUrl: string;
  restartPersist(): Promise<ServiceProcess>;
}

export async function startCluster(t: TestContext, options: { counter?: boolean; env?: Record<string, string> } = {}): Promise<Cluster> {
  const persistDb = await testDatabase(`${t.name}-persist`);
  const counterDb = options.counter === false ? undefined : await testDatabase(`${t.name}-counter`);
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const common = { DISCOVERY_URL: discovery.url, TWO_PC_SWEEP_INTERVAL_MS: '100', ...options.env };
  const startPersist = () => spawnService({ entry: 'persist/src/server.ts', env: { ...common, DATABASE_URL: persistDb.url } }, t);
  const [persist, counter] = await Promise.all([
    startPersist(),
    counterDb ? spawnService({ entry: 'counter/src/server.ts', env: { ...common, DATABASE_URL: counterDb.url } }, t) : undefined,
  ]);
  const cluster: Cluster = {
    discovery,
    persist,
    counter: counter!,
    persistDatabaseUrl: persistDb.url,
    counterDatabaseUrl: counterDb?.url ?? '',
    async restartPersist() {
      cluster.persist = await startPersist();
      return cluster.persist;
    },
  };
  return cluster;
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/**
 * A JSON call, signed as the gateway sends it (`user` inside its credential); `as` names another
 * caller, and `as: null` sends no credential at all.
 */
export async function call<T = Record<string, unknown>>(
  node: ServiceProcess,
  method: string,
  path: string,
  options: { body?: unknown; user?: string; as?: string | null } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = options.as === null ? {} : node.headers(options.user, options.as);
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (typeof options.body === 'string' && options.body.length > 1_000_000) {
    // Oversized on purpose: the server refuses it before reading it all.
    return (await sendRaw(`${node.url}${path}`, { method, headers, body: options.body })) as Reply<T>;
  }
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export type Vote = { vote: 'yes' | 'no'; request_id?: string; error?: { code: string; message: string } };

/**
 * Runs one transaction the way a coordinator does: prepares in parallel, then commits everywhere
 * if every vote is yes, else rolls back everywhere. Returns the votes.
 */
export async function runTransaction(
  txId: string,
  branches: { node: ServiceProcess; action: string; payload: unknown }[],
  timeoutMs = 30_000,
): Promise<{ committed: boolean; votes: Reply<Vote>[] }> {
  const votes = await Promise.all(
    branches.map(({ node, action, payload }) => call<Vote>(node, 'POST', '/api/prepare_2pc', { body: { txId, action, payload, timeoutMs } })),
  );
  const committed = votes.every((vote) => vote.status === 200 && vote.body.vote === 'yes');
  // Phase 2 as a coordinator runs it: a busy participant (503) is asked again until it answers.
  const decide = async (node: ServiceProcess) => {
    for (let attempt = 0; ; attempt += 1) {
      const decision = committed ? await call(node, 'POST', '/api/commit_2pc', { body: { txId } }) : await call(node, 'DELETE', '/api/rollback_2pc', { body: { txId } });
      if (decision.status !== 503 || attempt >= 50) return decision;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const decisions = await Promise.all(branches.map(({ node }) => decide(node)));
  for (const decision of decisions) if (decision.status !== 200) throw new Error(`phase 2 answered ${decision.status}: ${JSON.stringify(decision.body)}`);
  return { committed, votes };
}
