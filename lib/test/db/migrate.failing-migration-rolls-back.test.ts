// A migration whose SQL fails leaves no partial schema and no history row, and says where it failed.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyMigrations, MIGRATION_FAILURE } from '../../src/db/index.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { copyMigrations, NOTES_MIGRATIONS, query, tableNames } from './helper.ts';

const BROKEN = '20250103000000_add_templates';

test('a failing migration is rolled back whole, unrecorded, with an error naming file, line and SQL error', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await mkdir(join(dir, BROKEN));
  const file = join(dir, BROKEN, 'migration.sql');
  // The first statement succeeds; the second fails on line 5 (a missing column).
  await writeFile(
    file,
    ['-- CreateTable', 'CREATE TABLE "templates" ("id" SERIAL PRIMARY KEY, "body" TEXT NOT NULL);', '', '-- Backfill', 'INSERT INTO "templates" ("no_such_column") VALUES (1);', ''].join('\n'),
  );

  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: dir }), (error: Error & { details?: Record<string, unknown> }) => {
    assert.equal(error.details?.reason, MIGRATION_FAILURE.SQL_FAILED);
    assert.equal(error.details?.migration, BROKEN);
    assert.ok(error.message.includes(file), `names the file: ${error.message}`);
    assert.match(error.message, /at line 5/);
    assert.match(error.message, /column "no_such_column" of relation "templates" does not exist/);
    assert.match(error.message, /SQLSTATE 42703/);
    return true;
  });

  assert.deepEqual(await tableNames(db.url), ['_prisma_migrations', 'notifications'], 'no "templates": the whole migration rolled back');
  const names = (await query<{ migration_name: string }>(db.url, 'SELECT migration_name FROM _prisma_migrations ORDER BY migration_name')).map(
    (row) => row.migration_name,
  );
  assert.deepEqual(names, NOTES_MIGRATIONS, 'the earlier migrations stay applied, the failed one is not recorded');

  // Fixed, it applies on the next start without any manual resolution.
  await writeFile(file, 'CREATE TABLE "templates" ("id" SERIAL PRIMARY KEY, "body" TEXT NOT NULL);\n');
  const result = await applyMigrations({ connectionString: db.url, migrationsDir: dir });
  assert.deepEqual(result.applied, [BROKEN]);
});
