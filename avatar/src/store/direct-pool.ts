// The avatar database through node-postgres itself, beside Prisma, for the reads every variant
// request makes: the user's current version and a picture's bytes. Prisma carries bytea slowly (a
// cold 128 px variant of a 120 KB picture took 46 ms with it, 24 ms without, on a loaded 2-core
// machine) and its query compiler cost the event loop about 0.6 ms for each version read, as much
// as a quarter of a cold variant's time there; the driver hands back a Buffer, and each statement
// is prepared once per connection.
import pg from 'pg';
import type { Registry } from 'prom-client';
import { instrumentPool } from '@notify/lib/db';

export interface DirectPoolOptions {
  connectionString: string;
  poolSize: number;
  /** db_pool_* metrics, as pool `direct`. */
  registry?: Registry;
  onPoolError?: (error: Error) => void;
}

export function createDirectPool(options: DirectPoolOptions): pg.Pool {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000 });
  pool.on('error', (error) => options.onPoolError?.(error));
  if (options.registry) instrumentPool(pool, options.registry, 'direct');
  return pool;
}
