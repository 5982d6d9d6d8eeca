// Database plumbing services use at run time: their database (pool, /health, creation and
// migrations before listening), migrations, the Prisma client. Development tools (the embedded
// server, database administration, client generation) are in @notify/lib/dev.
export {
  applyMigrations,
  MIGRATION_FAILURE,
  PRISMA_MIGRATE_LOCK_KEY,
  type ApplyMigrationsOptions,
  type ApplyMigrationsResult,
  type MigrationFailure,
} from './migrate.ts';
export { readMigrations, scriptMatchesChecksum, type MigrationFile } from './migration-files.ts';
export { createPrismaAdapter, createPrismaClient, type PrismaClientClass, type PrismaClientOptions } from './prisma.ts';
export { instrumentPool, isAcquireTimeout } from '../metrics/db-pool-metrics.ts';
export { ensureDatabase, isUniqueViolation } from './database-admin.ts';
export { prepareDatabase } from './prepare-database.ts';
export { attachDatabase, databaseConfigShape, type ServiceDatabase } from './service-database.ts';
