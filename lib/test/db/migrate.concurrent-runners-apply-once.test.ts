// Service instances starting together serialise on Prisma's advisory lock: each migration runs once.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { applyMigrations, MIGRATION_FAILURE, PRISMA_MIGRATE_LOCK_KEY } from '../../src/db/index.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { copyMigrations, NOTES_MIGRATIONS, query } from './helper.ts';

test('four runners started together apply each migration exactly once', async (t) => {
  const db = await testDatabase(t);
  const dir = await copyMigrations(t);
  // Slow the first migration (300 ms) so the runners certainly overlap.
  const init = join(dir, '20250101000000_init', 'migration.sql');
  await writeFile(init, `SELECT pg_sleep(0.3);\nCREATE TABLE "notifications" ("id" SERIAL PRIMARY KEY, "recipient" TEXT NOT NULL, "body" TEXT NOT NULL, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);\n`);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  t.after(() => pool.end());

  const results = await Promise.all([
    applyMigrations({ connectionString: db.url, migrationsDir: dir }),
    applyMigrations({ connectionString: db.url, migrationsDir: dir }),
    applyMigrations({ connectionString: db.url, migrationsDir: dir }),
    applyMigrations({ pool, migrationsDir: dir }),
  ]);

  const appliedCounts = NOTES_MIGRATIONS.map((name) => results.filter((r) => r.applied.includes(name)).length);
  assert.deepEqual(appliedCounts, [1, 1], 'each migration applied by exactly one runner');
  for (const result of results) assert.deepEqual([...result.applied, ...result.alreadyApplied].sort(), NOTES_MIGRATIONS);
  const rows = await query<{ migration_name: string; n: string }>(
    db.url,
    'SELECT migration_name, count(*) AS n FROM _prisma_migrations GROUP BY migration_name ORDER BY migration_name',
  );
  assert.deepEqual(rows, NOTES_MIGRATIONS.map((name) => ({ migration_name: name, n: '1' })));
  // Advisory locks are per database; other test files' services take the same key in theirs.
  const held = await query(
    db.url,
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    [PRISMA_MIGRATE_LOCK_KEY],
  );
  assert.equal(held.length, 0, 'the lock is released, also on the pooled connection');
});

test('gives up with a clear error when another runner holds the lock too long', async (t) => {
  const db = await testDatabase(t);
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  t.after(() => holder.end());
  await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);

  const began = Date.now();
  await assert.rejects(applyMigrations({ connectionString: db.url, migrationsDir: await copyMigrations(t), lockTimeoutMs: 300 }), (error: Error & { details?: Record<string, unknown> }) => {
    assert.equal(error.details?.reason, MIGRATION_FAILURE.LOCK_TIMEOUT);
    assert.match(error.message, /pg_advisory_lock\(72707369\)/);
    return true;
  });
  assert.ok(Date.now() - began < 5_000, 'bounded by lockTimeoutMs, not forever');
});
