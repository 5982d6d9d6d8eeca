// Database plumbing every service shares: migrations, Prisma client, embedded PostgreSQL.
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
export { generatePrismaClient, type GeneratePrismaClientOptions } from './prisma-generate.ts';
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres.ts';
export { createDatabase, databaseUrl, dropDatabase, ensureDatabase, isUniqueViolation, type DropDatabaseOptions } from './database-admin.ts';
export { prepareDatabase } from './prepare-database.ts';
export { attachDatabase, databaseConfigShape, type ServiceDatabase } from './service-database.ts';
