// The migration runner applies each migration once and leaves the history `prisma migrate deploy` would.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyMigrations } from '../../src/db/index.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { copyMigrations, NOTES_MIGRATIONS, NOTES_MIGRATIONS_DIR, query, tableNames } from './helper.ts';

interface Row {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

test('applies every migration once, in order, recorded as Prisma records them', async (t) => {
  const db = await testDatabase(t);
  const messages: string[] = [];

  const first = await applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR, log: (m) => messages.push(m) });

  assert.deepEqual(first, { applied: NOTES_MIGRATIONS, alreadyApplied: [] });
  assert.deepEqual(await tableNames(db.url), ['_prisma_migrations', 'notifications']);
  assert.equal(messages.length, 2);
  assert.match(messages[0]!, /applied migration 20250101000000_init in \d+ ms/);

  const rows = await query<Row>(db.url, 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');
  assert.deepEqual(
    rows.map((row) => row.migration_name),
    NOTES_MIGRATIONS,
  );
  for (const row of rows) {
    const bytes = await readFile(join(NOTES_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
    assert.equal(row.checksum, createHash('sha256').update(bytes).digest('hex'), 'checksum is sha256 hex of the file');
    assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'id is a v4 uuid');
    assert.ok(row.finished_at instanceof Date, 'finished_at is set');
    assert.ok(row.finished_at >= row.started_at);
    assert.equal(row.rolled_back_at, null);
    assert.equal(row.logs, null);
    assert.equal(row.applied_steps_count, 1);
  }

  const columns = await query<{ column_name: string; data_type: string; character_maximum_length: number | null; is_nullable: string }>(
    db.url,
    `SELECT column_name, data_type, character_maximum_length, is_nullable FROM information_schema.columns
      WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
  );
  assert.deepEqual(
    columns.map((c) => `${c.column_name} ${c.data_type}${c.character_maximum_length ? `(${c.character_maximum_length})` : ''} ${c.is_nullable === 'NO' ? 'NOT NULL' : 'NULL'}`),
    [
      'id character varying(36) NOT NULL',
      'checksum character varying(64) NOT NULL',
      'finished_at timestamp with time zone NULL',
      'migration_name character varying(255) NOT NULL',
      'logs text NULL',
      'rolled_back_at timestamp with time zone NULL',
      'started_at timestamp with time zone NOT NULL',
      'applied_steps_count integer NOT NULL',
    ],
    "Prisma's table definition",
  );

  const second = await applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR });
  assert.deepEqual(second, { applied: [], alreadyApplied: NOTES_MIGRATIONS });
  assert.equal((await query(db.url, 'SELECT 1 FROM _prisma_migrations')).length, 2, 'no new rows');
});

test('a migration added later is the only one applied next time', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: dir });

  await mkdir(join(dir, '20250103000000_add_channel'));
  await writeFile(join(dir, '20250103000000_add_channel', 'migration.sql'), 'ALTER TABLE "notifications" ADD COLUMN "channel" TEXT;\n');
  const result = await applyMigrations({ connectionString: db.url, migrationsDir: dir });

  assert.deepEqual(result, { applied: ['20250103000000_add_channel'], alreadyApplied: NOTES_MIGRATIONS });
  await query(db.url, 'SELECT channel FROM notifications');
});

test('a migration recorded as rolled back is applied again, as Prisma does', async (t) => {
  const db = await testDatabase(t);
  await applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR });
  // What `prisma migrate resolve --rolled-back` leaves after an operator reverted the second migration by hand.
  await query(db.url, 'ALTER TABLE notifications DROP COLUMN read_at');
  await query(db.url, "UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20250102000000_add_read_at'");

  const result = await applyMigrations({ connectionString: db.url, migrationsDir: NOTES_MIGRATIONS_DIR });

  assert.deepEqual(result, { applied: ['20250102000000_add_read_at'], alreadyApplied: ['20250101000000_init'] });
  assert.equal((await query(db.url, 'SELECT 1 FROM _prisma_migrations')).length, 3, 'the rolled-back row stays as history');
});
