// The database pool's metrics: connections idle and busy, its size, callers waiting for a
// connection and the waits that ran out (pg.Pool's connectionTimeoutMillis), by pool.
import type pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC } from './names.ts';
import { perRegistry } from './per-registry.ts';

/** The errors pg.Pool gives a caller whose connection did not come within connectionTimeoutMillis. */
const ACQUIRE_TIMEOUT_MESSAGES = new Set([
  // Every connection was busy and none came back in time.
  'timeout exceeded when trying to connect',
  // A new connection to the server was not made in time.
  'Connection terminated due to connection timeout',
]);

export const isAcquireTimeout = (error: unknown): boolean => error instanceof Error && ACQUIRE_TIMEOUT_MESSAGES.has(error.message);

/** One set of pool metrics per registry; each pool registered under its own `pool` label. */
const poolMetrics = perRegistry((registry: Registry) => {
  const pools = new Map<string, pg.Pool>();
  const each = (read: (pool: pg.Pool, name: string) => void) => {
    for (const [name, pool] of pools) read(pool, name);
  };
  new Gauge({
    name: METRIC.dbPoolConnections,
    help: 'Open database connections by pool and state (idle: in the pool; busy: lent to a query or transaction)',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      each((pool, name) => {
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'busy' }, pool.totalCount - pool.idleCount);
      });
    },
  });
  new Gauge({
    name: METRIC.dbPoolMax,
    help: 'Most connections the pool opens (DB_POOL_SIZE), by pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      each((pool, name) => this.set({ pool: name }, pool.options.max ?? 10));
    },
  });
  new Gauge({
    name: METRIC.dbPoolWaiting,
    help: 'Callers waiting for a connection because every one the pool may open is busy, by pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      each((pool, name) => this.set({ pool: name }, pool.waitingCount));
    },
  });
  const timeouts = new Counter({
    name: METRIC.dbPoolAcquireTimeoutsTotal,
    help: 'Callers refused a connection because none came within the pool connection time-out, by pool',
    labelNames: ['pool'] as const,
    registers: [registry],
  });
  return { pools, timeouts };
});

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * Reports `pool` on `registry` as `name`, and counts its acquire time-outs. pg.Pool's own query()
 * goes through connect(), so both queries and transactions are counted.
 */
export function instrumentPool(pool: pg.Pool, registry: Registry, name: string): void {
  const metrics = poolMetrics(registry);
  metrics.pools.set(name, pool);
  // The series exists from the start, so rate() and increase() see the first time-out.
  metrics.timeouts.inc({ pool: name }, 0);
  const connect = pool.connect.bind(pool) as (callback?: ConnectCallback) => Promise<pg.PoolClient> | undefined;
  const counted = (callback?: ConnectCallback) => {
    if (callback) {
      return connect((error, client, done) => {
        if (isAcquireTimeout(error)) metrics.timeouts.inc({ pool: name });
        callback(error, client, done);
      });
    }
    return connect()!.catch((error: unknown) => {
      if (isAcquireTimeout(error)) metrics.timeouts.inc({ pool: name });
      throw error;
    });
  };
  pool.connect = counted as typeof pool.connect;
}
