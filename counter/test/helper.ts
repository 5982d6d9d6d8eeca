// counter as a real process on a fresh database, with discovery, and JSON calls to it.
import type { TestContext } from 'node:test';
import { sendRaw, spawnService, testDatabase, type ServiceProcess } from '@notify/lib/testing';

export interface CounterSetup {
  discovery: ServiceProcess;
  counter: ServiceProcess;
  databaseUrl: string;
  /** Starts counter again on the same database (after a kill). */
  restart(): Promise<ServiceProcess>;
}

export async function startCounter(t: TestContext, env: Record<string, string> = {}): Promise<CounterSetup> {
  const db = await testDatabase(t);
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const start = () =>
    spawnService({ entry: 'counter/src/server.ts', env: { DATABASE_URL: db.url, DISCOVERY_URL: discovery.url, TWO_PC_SWEEP_INTERVAL_MS: '100', ...env } }, t);
  const setup: CounterSetup = {
    discovery,
    counter: await start(),
    databaseUrl: db.url,
    async restart() {
      setup.counter = await start();
      return setup.counter;
    },
  };
  return setup;
}

export async function send<T = Record<string, unknown>>(node: ServiceProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const text = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  if (text !== undefined && text.length > 1_000_000) {
    // Oversized on purpose: the server refuses it before reading it all.
    return (await sendRaw(`${node.url}${path}`, { method, headers: node.headers(), body: text })) as { status: number; body: T };
  }
  // Signed as the gateway, counter's only caller.
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...node.headers(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export async function unread(node: ServiceProcess, userId: string): Promise<number> {
  return (await send<{ unread: number }>(node, 'GET', `/api/counters/${userId}`)).body.unread;
}
