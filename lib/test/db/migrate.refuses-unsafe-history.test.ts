// The migration runner refuses to go on when the folder and the recorded history disagree.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyMigrations, MIGRATION_FAILURE } from '../../src/db/index.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { copyMigrations, NOTES_MIGRATIONS, NOTES_MIGRATIONS_DIR, query, tableNames } from './helper.ts';

/** Matches an error from applyMigrations with this reason whose message names `migration`. */
function refusal(reason: string, migration?: string) {
  return (error: unknown): boolean => {
    const e = error as { message: string; details?: { reason?: string; migration?: string } };
    assert.equal(e.details?.reason, reason, e.message);
    if (migration) {
      assert.equal(e.details?.migration, migration);
      assert.ok(e.message.includes(migration), `message names ${migration}: ${e.message}`);
    }
    return true;
  };
}

test('refuses a migration whose file changed after it was applied, naming it', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: dir });
  const file = join(dir, '20250101000000_init', 'migration.sql');
  await writeFile(file, `${await readFile(file, 'utf8')}\nCREATE TABLE "sneaky" ("id" INT);\n`);

  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: dir }), (error: Error) => {
    refusal(MIGRATION_FAILURE.CHECKSUM_MISMATCH, '20250101000000_init')(error);
    assert.match(error.message, /modified after it was applied/);
    return true;
  });
  assert.deepEqual(await tableNames(db.url), ['_prisma_migrations', 'notifications'], 'nothing ran');
});

test('accepts a file whose only change is line endings, as Prisma does for git checkouts', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: dir });
  const file = join(dir, '20250101000000_init', 'migration.sql');
  await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));

  const result = await applyMigrations({ connectionString: db.url, migrationsDir: dir });
  assert.deepEqual(result.alreadyApplied, NOTES_MIGRATIONS);
});

test('refuses to continue past a migration Prisma recorded as failed', async (t) => {
  const db = await testDatabase(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR });
  // The row `prisma migrate deploy` leaves when a migration's SQL fails.
  await query(
    db.url,
    `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at, applied_steps_count)
     VALUES ('7b3c2c1e-5d0a-4a57-9a43-3c8f0e7d9b11', 'x', '20250104000000_broken', 'syntax error at or near "TABEL"', now(), 0)`,
  );

  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR }), (error: Error) => {
    refusal(MIGRATION_FAILURE.PREVIOUSLY_FAILED, '20250104000000_broken')(error);
    assert.match(error.message, /prisma migrate resolve --rolled-back 20250104000000_broken/);
    assert.match(error.message, /TABEL/, 'includes the recorded log');
    return true;
  });
});

test('refuses an applied migration missing from the folder', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: dir });
  await rm(join(dir, '20250102000000_add_read_at'), { recursive: true });

  await assert.rejects(
    applyMigrations({ connectionString: db.url, migrationsDir: dir }),
    refusal(MIGRATION_FAILURE.MISSING_ON_DISK, '20250102000000_add_read_at'),
  );
});

test('refuses a schema that has tables but no migration history', async (t) => {
  const db = await testDatabase(t);
  await query(db.url, 'CREATE TABLE pushed_by_hand (id INT)');

  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR }), (error: Error) => {
    refusal(MIGRATION_FAILURE.SCHEMA_NOT_EMPTY)(error);
    assert.match(error.message, /pushed_by_hand/);
    return true;
  });
  assert.deepEqual(await tableNames(db.url), ['pushed_by_hand']);
});

test('refuses a migration directory without migration.sql, naming it', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await rm(join(dir, '20250102000000_add_read_at', 'migration.sql'));

  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: dir }), /migration 20250102000000_add_read_at has no readable migration.sql/);
  assert.deepEqual(await tableNames(db.url), [], 'checked before touching the database');
});
