// The database pool behind a service's Prisma client on /metrics: its size, connections idle and
// busy, callers waiting, and waits for a connection that ran out (acquire time-outs), counted on a
// pool starved for real against PostgreSQL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createPrismaClient, type PrismaClientClass } from '../lib/src/db/index.ts';
import { METRIC } from '../lib/src/metrics/names.ts';
import { metricSample, spawnService, testDatabase } from '../lib/src/testing/index.ts';
import { PrismaClient as CounterPrismaClient } from '../counter/generated/prisma/client.ts';

interface RawClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $transaction<R>(fn: (tx: RawClient) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  $disconnect(): Promise<void>;
}

/** One sample of `name` in the registry's exposition whose labels include every one of `labels`. */
async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name && wanted.every((label) => (match[2] ?? '').includes(label))) return Number(match[3]);
  }
  return undefined;
}

async function until(what: string, condition: () => Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await condition())) {
    assert.ok(performance.now() < deadline, `${what} within ${withinMs} ms`);
    await sleep(5);
  }
}

test("a service's /metrics shows its pool: size, idle and busy connections, waiters and acquire time-outs", async (t) => {
  const db = await testDatabase(t);
  const discovery = await spawnService({ entry: 'discovery/src/server.ts' }, t);
  const counter = await spawnService({ entry: 'counter/src/server.ts', env: { DATABASE_URL: db.url, DISCOVERY_URL: discovery.url, DB_POOL_SIZE: '3' } }, t);
  const labels = { service: 'counter', pool: 'prisma' };
  assert.equal(await metricSample(counter, METRIC.dbPoolMax, labels), 3, 'the pool size is DB_POOL_SIZE');
  const idle = await metricSample(counter, METRIC.dbPoolConnections, { ...labels, state: 'idle' });
  const busy = await metricSample(counter, METRIC.dbPoolConnections, { ...labels, state: 'busy' });
  assert.ok(idle !== undefined && busy !== undefined, 'idle and busy connections are reported');
  assert.ok(idle + busy >= 1 && idle + busy <= 3, `the connections it opened (its /health query) stay within its size: ${idle} idle, ${busy} busy`);
  assert.equal(await metricSample(counter, METRIC.dbPoolWaiting, labels), 0);
  assert.equal(await metricSample(counter, METRIC.dbPoolAcquireTimeoutsTotal, labels), 0, 'the time-out counter exists from the start');
});

test('a starved pool reports its waiter, counts the wait that timed out, and nothing else as a time-out', async (t) => {
  const db = await testDatabase(t);
  const registry = new Registry();
  const prisma = createPrismaClient(CounterPrismaClient as unknown as PrismaClientClass<RawClient>, {
    connectionString: db.url,
    poolSize: 1,
    connectionTimeoutMs: 5_000,
    metrics: { registry, name: 'starved' },
  });
  t.after(() => prisma.$disconnect());
  const labels = { pool: 'starved' };
  assert.equal(await sample(registry, METRIC.dbPoolMax, labels), 1);
  assert.equal(await sample(registry, METRIC.dbPoolAcquireTimeoutsTotal, labels), 0);

  // The one connection held by a transaction until the test lets it go.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding = false;
  const transaction = prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1');
      holding = true;
      await released;
    },
    { maxWait: 10_000, timeout: 60_000 },
  );
  await until('the transaction holds the connection', async () => holding);
  assert.equal(await sample(registry, METRIC.dbPoolConnections, { ...labels, state: 'busy' }), 1);
  assert.equal(await sample(registry, METRIC.dbPoolConnections, { ...labels, state: 'idle' }), 0);

  const started = performance.now();
  const starved = prisma.$queryRawUnsafe('SELECT 1').then(
    () => 'answered',
    (error: unknown) => String((error as Error).message ?? error),
  );
  await until('the query waits for a connection', async () => (await sample(registry, METRIC.dbPoolWaiting, labels)) === 1, 4_500);
  const outcome = await starved;
  assert.notEqual(outcome, 'answered', 'a query with no connection to be had is refused');
  // Generous: a busy machine's timers run late, never much early.
  assert.ok(performance.now() - started >= 4_000, 'refused after the connection time-out, not before');
  assert.equal(await sample(registry, METRIC.dbPoolAcquireTimeoutsTotal, labels), 1, `the time-out is counted (${outcome})`);
  assert.equal(await sample(registry, METRIC.dbPoolWaiting, labels), 0);

  release();
  await transaction;
  // Errors that are not a wait for a connection are not time-outs.
  await assert.rejects(prisma.$queryRawUnsafe('SELECT * FROM no_such_table'));
  assert.equal(await prisma.$queryRawUnsafe<{ one: number }[]>('SELECT 1 AS one').then((rows) => rows[0]?.one), 1);
  assert.equal(await sample(registry, METRIC.dbPoolAcquireTimeoutsTotal, labels), 1);
  assert.equal(await sample(registry, METRIC.dbPoolConnections, { ...labels, state: 'idle' }), 1);
});
