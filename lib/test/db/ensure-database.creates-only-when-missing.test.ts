// ensureDatabase creates a missing database through the server's `postgres` database, once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { ensureDatabase } from '../../src/db/index.ts';
import { databaseUrl, dropDatabase } from '../../src/dev/index.ts';
import { testDatabase } from '../../src/testing/index.ts';

test('ensureDatabase creates a missing database once and leaves an existing one alone', async (t) => {
  const existing = await testDatabase(t);
  const name = `ensure_${randomUUID().slice(0, 8)}`;
  const url = databaseUrl(existing.url, name);
  t.after(() => dropDatabase(existing.url, name, { force: true }));

  const client = new pg.Client({ connectionString: existing.url });
  await client.connect();
  await client.query('CREATE TABLE marker (id int)');
  await client.end();

  assert.equal(await ensureDatabase(existing.url), false, 'an existing database is not created again');
  const again = new pg.Client({ connectionString: existing.url });
  await again.connect();
  assert.equal((await again.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'marker'")).rows[0].n, 1, 'and keeps its tables');
  await again.end();

  const created = await Promise.all([ensureDatabase(url), ensureDatabase(url)]);
  assert.deepEqual(created.filter(Boolean).length, 1, 'two racing callers create it once');
  assert.equal(await ensureDatabase(url), false);
});
