// Helpers for the database tests: fixture paths, a private copy of a migrations folder, one-off queries.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** The fixture service: prisma/schema.prisma and prisma/migrations (two migrations). */
export const NOTES_SERVICE_DIR = fileURLToPath(new URL('../fixtures/notes-service/', import.meta.url));
export const NOTES_MIGRATIONS_DIR = join(NOTES_SERVICE_DIR, 'prisma', 'migrations');
export const NOTES_MIGRATIONS = ['20250101000000_init', '20250102000000_add_read_at'];

/** A copy of the fixture migrations the test may edit, removed after the test. */
export async function copyMigrations(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'notify-migrations-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(NOTES_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

/** Runs one query on its own connection. */
export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Names of the tables in the public schema. */
export async function tableNames(url: string): Promise<string[]> {
  const rows = await query<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  return rows.map((row) => row.tablename);
}
