// A service's own PostgreSQL database through its generated Prisma client: the pool, a /health
// dependency, closing with the service, and creation plus migrations before it listens.
import { z } from 'zod';
import { env } from '../config.ts';
import type { Service } from '../service/create-service.ts';
import { prepareDatabase } from './prepare-database.ts';
import { createPrismaClient, type PrismaClientClass } from './prisma.ts';

/** The configuration keys of a service that owns a database. */
export function databaseConfigShape(service: string) {
  return {
    DATABASE_URL: z.url().describe(`PostgreSQL database of ${service}; required (created at start if the server lacks it)`),
    DB_POOL_SIZE: env.int(10, 'Connections in the database pool', 1),
  };
}

interface PrismaLike {
  $disconnect(): Promise<void>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

export interface ServiceDatabase<TClient> {
  db: TClient;
}

export function attachDatabase<TClient extends PrismaLike>(
  service: Service,
  options: { PrismaClient: PrismaClientClass<TClient>; url: string; poolSize: number; migrationsDir: string },
): ServiceDatabase<TClient> {
  const db = createPrismaClient(options.PrismaClient, {
    connectionString: options.url,
    poolSize: options.poolSize,
    onPoolError: (error) => service.log.warn({ err: error }, 'database connection lost'),
    // db_pool_* on the service's /metrics: saturation (busy against max, waiting) and acquire time-outs.
    metrics: { registry: service.metrics, name: 'prisma' },
  });
  // A prepare step: the database exists and is migrated before the port opens.
  service.onPrepare(() => prepareDatabase({ url: options.url, migrationsDir: options.migrationsDir, log: service.log }));
  // Added first by its service, so closed last: every other close step may still use it.
  service.onClose(() => db.$disconnect());
  service.addDependency('database', async () => {
    await db.$queryRawUnsafe('SELECT 1');
    return { state: 'up' };
  });
  return { db };
}
