// Compose's init script for postgres_exporter's role, run for real (psql against this run's server):
// the role reads the server's statistics (pg_monitor) on `postgres`, and cannot write, create a
// database, or read a service's rows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { testDatabase } from '../lib/src/testing/postgres.ts';
import { adminUrl, superuserEnv } from './postgres-init-scripts.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SCRIPT = 'docker/postgres/init-exporter-role.sh';
const hasPsql = spawnSync('psql', ['--version']).error === undefined;

test("postgres_exporter's role reads statistics and nothing else", { skip: hasPsql ? false : 'psql not found: apt-get install -y postgresql-client' }, async (t) => {
  const service = await testDatabase(t.name);
  const server = new URL(service.url);
  const role = `exporter_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const admin = new pg.Client({ connectionString: adminUrl(server) });
  await admin.connect();
  t.after(async () => {
    await admin.query(`REVOKE CONNECT ON DATABASE postgres FROM ${admin.escapeIdentifier(role)}`).catch(() => {});
    await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(role)}`);
    await admin.end();
  });
  const env = {
    ...superuserEnv(server),
    EXPORTER_ROLE: role,
    POSTGRES_EXPORTER_PASSWORD: password,
  };
  const missing = spawnSync('sh', [SCRIPT], { cwd: ROOT, encoding: 'utf8', env: { ...env, POSTGRES_EXPORTER_PASSWORD: '' } });
  assert.notEqual(missing.status, 0, 'a missing password stops the script');
  assert.match(missing.stderr, /set POSTGRES_EXPORTER_PASSWORD/);
  const run = spawnSync('sh', [SCRIPT], { cwd: ROOT, encoding: 'utf8', env });
  assert.equal(run.status, 0, run.stdout + run.stderr);

  // A service's table, with a row the exporter must not read.
  const owner = new pg.Client({ connectionString: service.url });
  await owner.connect();
  await owner.query('CREATE TABLE secrets (value text)');
  await owner.query("INSERT INTO secrets VALUES ('not for the exporter')");
  await owner.end();

  const exporter = new pg.Client({ host: server.hostname, port: Number(server.port), user: role, password, database: 'postgres' });
  await exporter.connect();
  t.after(() => exporter.end());
  // What the PostgreSQL board reads: every database's statistics, the server's settings.
  const databases = await exporter.query<{ datname: string }>('SELECT datname FROM pg_stat_database WHERE datname IS NOT NULL');
  assert.ok(databases.rows.some((row) => row.datname === server.pathname.slice(1)), 'it sees every database in pg_stat_database');
  assert.ok((await exporter.query("SELECT setting FROM pg_settings WHERE name = 'max_connections'")).rows.length === 1);
  const flags = await exporter.query<{ rolsuper: boolean; rolcreatedb: boolean; monitor: boolean }>(
    "SELECT rolsuper, rolcreatedb, pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS monitor FROM pg_roles WHERE rolname = current_user",
  );
  assert.deepEqual(flags.rows[0], { rolsuper: false, rolcreatedb: false, monitor: true });
  await assert.rejects(exporter.query('CREATE DATABASE exporter_may_not'), (error: { code?: string }) => error.code === '42501');
  await assert.rejects(exporter.query('CREATE TABLE public.exporter_may_not (id int)'), (error: { code?: string }) => error.code === '42501');
  // A service's database: it may connect (testDatabase leaves CONNECT to PUBLIC, compose's script does not),
  // but it reads no row.
  const inService = new pg.Client({ host: server.hostname, port: Number(server.port), user: role, password, database: server.pathname.slice(1) });
  await inService.connect();
  t.after(() => inService.end());
  await assert.rejects(inService.query('SELECT value FROM secrets'), (error: { code?: string }) => error.code === '42501');
});
