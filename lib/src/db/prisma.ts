// Builds a service's generated Prisma 7 client on node-postgres through @prisma/adapter-pg (no native engine),
// on a pg.Pool of its own that reports its connections, waiters and acquire time-outs when given a registry.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { instrumentPool } from '../metrics/db-pool-metrics.ts';

export interface PrismaClientOptions {
  connectionString: string;
  /** Most connections the pool opens. Default 10 (node-postgres's default). */
  poolSize?: number;
  /** How long an idle connection stays open, in ms. Default 10 000. */
  idleTimeoutMs?: number;
  /** How long to wait for a connection, in ms. Default 10 000; 0 waits forever. */
  connectionTimeoutMs?: number;
  /** PostgreSQL schema the generated queries target; default the connection's search_path (public). */
  schema?: string;
  /** Errors of idle pooled connections (server restart, network). Without it they are dropped silently. */
  onPoolError?: (error: Error) => void;
  /** Where the pool reports itself (db_pool_* metrics), under label `pool` = `name`. */
  metrics?: { registry: Registry; name: string };
}

/**
 * Any generated PrismaClient class. Generated constructors are generic over their options; this shape
 * lets TypeScript infer the service's own client type from the class passed in.
 */
export type PrismaClientClass<TClient> = new (options: { adapter: PrismaPg }) => TClient;

/** The driver adapter alone, for services that construct their client with more options (log, omit). */
export function createPrismaAdapter(options: PrismaClientOptions): PrismaPg {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  if (options.metrics) instrumentPool(pool, options.metrics.registry, options.metrics.name);
  // The pool is ours: `$disconnect()` ends it, as it ends a pool the adapter builds itself.
  return new PrismaPg(pool, {
    disposeExternalPool: true,
    ...(options.schema ? { schema: options.schema } : {}),
    ...(options.onPoolError ? { onPoolError: options.onPoolError } : {}),
  });
}

/**
 * A client of the service's generated class on a pool of its own. The pool opens on first query and
 * closes with `$disconnect()`.
 * @example const prisma = createPrismaClient(PrismaClient, { connectionString: config.DATABASE_URL, poolSize: 5 })
 */
export function createPrismaClient<TClient>(PrismaClient: PrismaClientClass<TClient>, options: PrismaClientOptions): TClient {
  return new PrismaClient({ adapter: createPrismaAdapter(options) });
}
