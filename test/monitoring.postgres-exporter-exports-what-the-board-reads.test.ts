// A real postgres_exporter (Debian's, where installed; compose runs the upstream image) against this
// run's PostgreSQL exports every metric the PostgreSQL board and the rules read, as listed in
// test/monitoring-postgres-exporter-metrics.ts, with the labels the board groups by.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../lib/src/dev/postgres-process.ts';
import { testDatabase } from '../lib/src/testing/postgres.ts';
import { POSTGRES_EXPORTER_METRICS } from './monitoring-postgres-exporter-metrics.ts';

const EXPORTER = 'prometheus-postgres-exporter';
const hasExporter = spawnSync(EXPORTER, ['--version']).error === undefined;

test('postgres_exporter exports every metric the PostgreSQL board and the rules read', { skip: hasExporter ? false : `postgres_exporter not found: apt-get install -y ${EXPORTER}` }, async (t) => {
  const db = await testDatabase(t.name);
  const url = new URL(db.url);
  url.searchParams.set('sslmode', 'disable');
  const port = await freePort();
  const exporter = spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], { env: { ...process.env, DATA_SOURCE_NAME: url.href }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  exporter.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  t.after(() => exporter.kill('SIGKILL'));

  let text = '';
  const deadline = performance.now() + 30_000;
  for (;;) {
    text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (response) => response.text(),
      () => '',
    );
    if (/^pg_up 1$/m.test(text)) break;
    assert.ok(performance.now() < deadline, `postgres_exporter answered pg_up 1 within 30 s\n${log.slice(-2_000)}`);
    await sleep(200);
  }
  const exported = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? /gm)].map((match) => match[1]!));
  assert.deepEqual([...POSTGRES_EXPORTER_METRICS].filter((name) => !exported.has(name)), [], 'listed metrics the exporter does not export');
  // The labels the board's queries group by.
  assert.match(text, new RegExp(`^pg_stat_database_xact_commit\\{[^}]*datname="${db.name}"`, 'm'), 'pg_stat_database_* by datname');
  assert.match(text, /^pg_stat_activity_count\{[^}]*datname="[^"]*"[^}]*state="[^"]*"/m, 'pg_stat_activity_count by datname and state');
  assert.match(text, /^pg_locks_count\{[^}]*mode="[^"]*"/m, 'pg_locks_count by mode');
});
