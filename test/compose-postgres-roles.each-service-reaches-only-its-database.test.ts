// Compose's PostgreSQL init script, run for real (psql against this run's server): each service's
// role owns its database, can migrate it, and cannot connect to another service's or the server's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { dropDatabase } from '../lib/src/db/database-admin.ts';
import { testDatabase } from '../lib/src/testing/postgres.ts';
import { adminUrl, superuserEnv } from './postgres-init-scripts.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SCRIPT = 'docker/postgres/init-service-roles.sh';
const hasPsql = spawnSync('psql', ['--version']).error === undefined;

test('one role per service: its own database only', { skip: hasPsql ? false : 'psql not found: apt-get install -y postgresql-client' }, async (t) => {
  // This run's server (as its superuser); role and database names unique to this test.
  const server = new URL((await testDatabase(t.name)).url);
  const suffix = randomBytes(4).toString('hex');
  const [mine, theirs] = [`roles_${suffix}_persist`, `roles_${suffix}_counter`];
  const passwords = { [mine]: randomBytes(12).toString('hex'), [theirs]: randomBytes(12).toString('hex') };
  t.after(async () => {
    const admin = adminUrl(server);
    for (const name of [mine, theirs]) await dropDatabase(admin, name, { force: true }).catch(() => {});
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    for (const name of [mine, theirs]) await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(name)}`);
    await client.end();
  });
  const env = {
    ...superuserEnv(server),
    SERVICE_DATABASES: `${mine} ${theirs}`,
    [`${mine.toUpperCase()}_DB_PASSWORD`]: passwords[mine]!,
    [`${theirs.toUpperCase()}_DB_PASSWORD`]: passwords[theirs]!,
  };

  const missing = spawnSync('sh', [SCRIPT], { cwd: ROOT, encoding: 'utf8', env: { ...env, [`${theirs.toUpperCase()}_DB_PASSWORD`]: '' } });
  assert.notEqual(missing.status, 0, 'a missing password stops the script');
  assert.match(missing.stderr, new RegExp(`set ${theirs.toUpperCase()}_DB_PASSWORD`));
  const run = spawnSync('sh', [SCRIPT], { cwd: ROOT, encoding: 'utf8', env });
  assert.equal(run.status, 0, run.stdout + run.stderr);

  const as = (role: string, database: string) =>
    new pg.Client({ host: server.hostname, port: Number(server.port), user: role, password: passwords[role], database });
  // Its own database: it connects and migrates (creates tables in public, as the migrations do).
  const own = as(mine, mine);
  await own.connect();
  try {
    await own.query('CREATE TABLE migrated (id int PRIMARY KEY)');
    await own.query('INSERT INTO migrated VALUES (1)');
  } finally {
    await own.end();
  }
  // Another service's database, or the server's own: refused at connect.
  for (const database of [theirs, 'postgres', 'template1']) {
    const other = as(mine, database);
    await assert.rejects(other.connect(), (error: { code?: string }) => error.code === '42501', `${mine} cannot connect to ${database}`);
    await other.end().catch(() => {});
  }
});
