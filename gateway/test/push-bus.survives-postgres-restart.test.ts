// The push bus across a PostgreSQL crash (SIGKILL of the postmaster) and restart: while the server
// is down each bus retries on one loop with capped backoff (a handful of attempts, not a flood of
// sockets), LISTENs exactly once when it is back, and messages flow between instances again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import { prepareDatabase } from '@notify/lib/db';
import { startKillablePostgres } from '@notify/lib/testing';
import { PushBus } from '../src/push/bus.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');
const CHANNEL = 'bus_restart_test';

async function until(condition: () => boolean | Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, what);
    await sleep(50);
  }
}

test('after PostgreSQL is killed and restarted, each bus reconnects on one loop and LISTENs once', async (t) => {
  const server = await startKillablePostgres();
  t.after(() => server.stop());
  await server.createDatabase('gateway');
  const url = server.urlFor('gateway');
  await prepareDatabase({ url, migrationsDir: MIGRATIONS_DIR, log: pino({ level: 'silent' }) });

  const received = new Map<string, string[]>([['a', []], ['b', []]]);
  const buses = ['a', 'b'].map((name) => {
    const pool = new pg.Pool({ connectionString: `${url}?application_name=bus-${name}-pool`, max: 2 });
    pool.on('error', () => undefined);
    const bus = new PushBus<string>({
      url: `${url}?application_name=bus-${name}-listen`,
      channel: CHANNEL,
      pool,
      log: pino({ level: 'silent' }),
      onMessage: (message) => void received.get(name)!.push(message),
    });
    t.after(async () => {
      await bus.close();
      await pool.end();
    });
    return bus;
  });
  const [a, b] = buses as [PushBus<string>, PushBus<string>];
  await Promise.all(buses.map((bus) => bus.start()));
  await b.publish('before');
  await until(() => received.get('a')!.includes('before'), 10_000, 'a hears b before the crash');

  await server.kill();
  await until(() => !a.isConnected && !b.isConnected, 10_000, 'both buses notice the crash');
  const connectsAtCrash = buses.map((bus) => bus.stats.connects);
  const downFor = 4_000;
  await sleep(downFor); // the outage itself is what is measured here: how many attempts it draws
  const attemptsWhileDown = buses.map((bus, i) => bus.stats.connects - connectsAtCrash[i]!);
  t.diagnostic(`connection attempts during ${downFor} ms of outage: ${attemptsWhileDown.join(', ')}`);
  // One loop, 100 ms doubling to 5 s with jitter: about 6 attempts in 4 s. Several loops, or a loop per failure, make hundreds.
  for (const attempts of attemptsWhileDown) assert.ok(attempts <= 15, `at most 15 attempts while down (${attempts})`);

  await server.restart();
  await until(() => a.isConnected && b.isConnected, 30_000, 'both buses reconnect once PostgreSQL is back');
  for (const bus of buses) {
    assert.equal(bus.stats.listens, 2, 'LISTEN once at start and once after the restart');
    assert.equal(bus.stats.reconnects, 1, 'one successful reconnect');
  }
  // Later failed attempts could not have left anything behind; what is open now is one listener each.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const listeners = await admin
    .query<{ application_name: string; n: number }>(`SELECT application_name, count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'bus-%-listen' GROUP BY 1 ORDER BY 1`)
    .finally(() => admin.end());
  assert.deepEqual(listeners.rows, [
    { application_name: 'bus-a-listen', n: 1 },
    { application_name: 'bus-b-listen', n: 1 },
  ]);

  await b.publish('after');
  await a.publish('back');
  await until(() => received.get('a')!.includes('after') && received.get('b')!.includes('back'), 10_000, 'messages flow both ways after the restart');
  await sleep(300); // a second listener would deliver a copy; give it the time one delivery took
  assert.deepEqual(received.get('a')!.filter((m) => m === 'after'), ['after'], 'delivered once');
});
