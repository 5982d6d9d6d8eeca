// Applies a service's Prisma migrations folder at start, recording them in `_prisma_migrations` exactly as
// `prisma migrate deploy` does, so either tool can take over from the other.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createError, type AppError } from '../errors.ts';
import { readMigrations, scriptMatchesChecksum, type MigrationFile } from './migration-files.ts';

/**
 * The advisory lock key Prisma Migrate takes (prisma-engines, flavour/postgres.rs). Taking the same key
 * serialises us with other instances of the service and with `prisma migrate deploy`. Advisory locks
 * are per database, so services sharing a server do not wait for each other.
 */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Prisma's table definition (prisma-engines, flavour/postgres.rs `create_migrations_table`), made idempotent. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

/** Why applyMigrations refused or failed; found in the error's `details.reason`. */
export const MIGRATION_FAILURE = {
  /** An applied migration's migration.sql changed since. */
  CHECKSUM_MISMATCH: 'MIGRATION_CHECKSUM_MISMATCH',
  /** A migration is recorded as started and never finished nor rolled back (Prisma's P3009). */
  PREVIOUSLY_FAILED: 'MIGRATION_PREVIOUSLY_FAILED',
  /** The database has a migration applied that is not in the folder. */
  MISSING_ON_DISK: 'MIGRATION_MISSING_ON_DISK',
  /** The schema has tables but no migration history (Prisma's P3005): it was not built by migrations. */
  SCHEMA_NOT_EMPTY: 'MIGRATION_SCHEMA_NOT_EMPTY',
  /** A migration's SQL failed; it was rolled back and not recorded. */
  SQL_FAILED: 'MIGRATION_SQL_FAILED',
  /** Another runner held the migration lock for longer than `lockTimeoutMs`. */
  LOCK_TIMEOUT: 'MIGRATION_LOCK_TIMEOUT',
} as const;

export type MigrationFailure = (typeof MIGRATION_FAILURE)[keyof typeof MIGRATION_FAILURE];

export type ApplyMigrationsOptions = ({ connectionString: string; pool?: never } | { pool: pg.Pool; connectionString?: never }) & {
  /** A Prisma migrations folder: `<name>/migration.sql` per migration. */
  migrationsDir: string;
  /** Told about each migration applied. */
  log?: (message: string) => void;
  /** How long to wait for another runner's lock, in ms. Default 60 000. */
  lockTimeoutMs?: number;
};

export interface ApplyMigrationsResult {
  /** Migrations this call applied, in order. */
  applied: string[];
  /** Migrations found already applied. */
  alreadyApplied: string[];
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
}

/**
 * Applies every migration in `migrationsDir` not yet applied, in name order, each in its own
 * transaction together with its `_prisma_migrations` row, under Prisma's advisory lock.
 *
 * A failing migration is rolled back, leaves no row and no partial schema, and throws naming the file
 * and the SQL error; fix it and start again. (Prisma instead records a failed row; we refuse to
 * continue past such a row, as Prisma does.) Scripts with their own BEGIN/COMMIT, or statements that
 * cannot run in a transaction (CREATE INDEX CONCURRENTLY), lose that atomicity or fail.
 *
 * Refuses, naming the migration: an applied migration whose file changed, a migration recorded as
 * failed, an applied migration missing from the folder.
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<ApplyMigrationsResult> {
  const migrations = await readMigrations(options.migrationsDir);
  const session = await openSession(options);
  try {
    await lock(session.client, options.lockTimeoutMs ?? 60_000);
    try {
      return await applyUnderLock(session.client, migrations, options.log ?? (() => {}));
    } finally {
      // If unlocking fails the session may still hold the lock: never hand it back to a pool.
      await session.client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch(() => {
        session.broken = true;
      });
    }
  } catch (error) {
    if (isConnectionError(error)) session.broken = true;
    throw error;
  } finally {
    await session.close();
  }
}

async function applyUnderLock(client: pg.ClientBase, migrations: MigrationFile[], log: (message: string) => void): Promise<ApplyMigrationsResult> {
  await ensureMigrationsTable(client);
  const rows = (
    await client.query<MigrationRow>(
      'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at FROM _prisma_migrations ORDER BY started_at',
    )
  ).rows;
  const applied = checkHistory(rows, migrations);

  const result: ApplyMigrationsResult = { applied: [], alreadyApplied: [] };
  for (const migration of migrations) {
    if (applied.has(migration.name)) {
      result.alreadyApplied.push(migration.name);
      continue;
    }
    const began = Date.now();
    await applyOne(client, migration);
    result.applied.push(migration.name);
    log(`applied migration ${migration.name} in ${Date.now() - began} ms`);
  }
  return result;
}

/** Validates the recorded history against the folder; returns the names applied. */
function checkHistory(rows: MigrationRow[], migrations: MigrationFile[]): Set<string> {
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw migrationError(
      MIGRATION_FAILURE.PREVIOUSLY_FAILED,
      failed.migration_name,
      `migration ${failed.migration_name} started at ${failed.started_at.toISOString()} failed and was never resolved; ` +
        `new migrations will not be applied. Repair the schema, then mark it rolled back ` +
        `(prisma migrate resolve --rolled-back ${failed.migration_name}, or UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = '${failed.id}')` +
        (failed.logs ? `. Its log: ${failed.logs}` : ''),
    );
  }
  const onDisk = new Map(migrations.map((migration) => [migration.name, migration]));
  const applied = new Set<string>();
  for (const row of rows) {
    if (row.finished_at === null || row.rolled_back_at !== null) continue;
    const migration = onDisk.get(row.migration_name);
    if (!migration) {
      throw migrationError(
        MIGRATION_FAILURE.MISSING_ON_DISK,
        row.migration_name,
        `migration ${row.migration_name} is applied to the database but missing from the migrations folder; restore it (is this an older build of the service?)`,
      );
    }
    if (!scriptMatchesChecksum(migration.script, row.checksum)) {
      throw migrationError(
        MIGRATION_FAILURE.CHECKSUM_MISMATCH,
        row.migration_name,
        `migration ${row.migration_name} was modified after it was applied (${migration.path}): ` +
          `restore the applied version and put the change in a new migration`,
      );
    }
    applied.add(row.migration_name);
  }
  return applied;
}

async function applyOne(client: pg.ClientBase, migration: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    // Same row shape as Prisma's record_migration_started / record_successful_step / record_migration_finished.
    const id = randomUUID();
    await client.query('INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)', [
      id,
      migration.checksum,
      migration.name,
    ]);
    try {
      // No parameters: pg uses the simple-query protocol, which runs a multi-statement script as is.
      await client.query(migration.script);
    } catch (error) {
      throw sqlFailure(migration, error);
    }
    // clock_timestamp(), not now(): now() is frozen at the transaction's start, which would equal started_at.
    await client.query(
      'UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp() WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

async function ensureMigrationsTable(client: pg.ClientBase): Promise<void> {
  const tables = (
    await client.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
    )
  ).rows.map((row) => row.name);
  if (tables.includes('_prisma_migrations')) return;
  if (tables.length > 0) {
    throw migrationError(
      MIGRATION_FAILURE.SCHEMA_NOT_EMPTY,
      undefined,
      `the database schema is not empty (${tables.join(', ')}) but has no migration history; ` +
        `it was not built by migrations: baseline it (prisma migrate resolve --applied <name>) or use an empty database`,
    );
  }
  await client.query(CREATE_MIGRATIONS_TABLE);
}

async function lock(client: pg.ClientBase, timeoutMs: number): Promise<void> {
  // lock_timeout bounds the wait for an advisory lock too; reset so it does not apply to migrations.
  await client.query(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw migrationError(
        MIGRATION_FAILURE.LOCK_TIMEOUT,
        undefined,
        `another migration runner held the migration lock (pg_advisory_lock(${PRISMA_MIGRATE_LOCK_KEY})) for more than ${timeoutMs} ms`,
        error,
      );
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout').catch(() => {});
  }
}

interface Session {
  client: pg.ClientBase;
  broken: boolean;
  close(): Promise<void>;
}

async function openSession(options: ApplyMigrationsOptions): Promise<Session> {
  // A dropped connection also surfaces as an 'error' event, which would crash the process unheard;
  // the failing query reports it to the caller anyway.
  const ignore = (): void => {};
  if (options.pool) {
    const client = await options.pool.connect();
    client.on('error', ignore);
    const session: Session = {
      client,
      broken: false,
      // A broken connection must not go back to the pool; a healthy one has released its lock already.
      close: async () => {
        client.off('error', ignore);
        client.release(session.broken);
      },
    };
    return session;
  }
  // 10 s: the database is local or near; longer means it is not there.
  const client = new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: 10_000 });
  client.on('error', ignore);
  await client.connect();
  return { client, broken: false, close: () => client.end() };
}

function sqlFailure(migration: MigrationFile, error: unknown): AppError {
  const pgError = error as Partial<pg.DatabaseError> & Error;
  const at = pgError.position ? ` at line ${lineOf(migration.script, Number(pgError.position))}` : '';
  const extra = [pgError.detail && `detail: ${pgError.detail}`, pgError.hint && `hint: ${pgError.hint}`].filter(Boolean).join('; ');
  return migrationError(
    MIGRATION_FAILURE.SQL_FAILED,
    migration.name,
    `migration ${migration.name} failed${at} (${migration.path}): ${pgError.message}${pgError.code ? ` [SQLSTATE ${pgError.code}]` : ''}` +
      `${extra ? ` (${extra})` : ''}; it was rolled back and not recorded`,
    error,
  );
}

/** Line number of a 1-based character position, as PostgreSQL reports positions in the query text. */
function lineOf(script: string, position: number): number {
  return script.slice(0, Math.max(0, position - 1)).split('\n').length;
}

function migrationError(reason: MigrationFailure, migration: string | undefined, message: string, cause?: unknown): AppError {
  return createError({ code: 'INTERNAL', message, details: { reason, ...(migration ? { migration } : {}) }, cause });
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  // Node socket errors, and SQLSTATE class 08 (connection exception) / 57P (operator intervention).
  return typeof code === 'string' && (code.startsWith('E') || code.startsWith('08') || code.startsWith('57P'));
}
