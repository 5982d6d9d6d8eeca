// The embedded server keeps its data across restarts, refuses a second start on the same directory,
// and leaves no process behind when stopped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmbeddedPostgres } from '../../src/dev/index.ts';
import { query } from './helper.ts';

/** Live (non-zombie) postmasters serving `dataDir`, from `ps`; backends and the watchdog have other command lines. */
function processesOn(dataDir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(`postgres -D ${dataDir} `) && !/^\s*\d+\s+Z/.test(line));
}

/** Any live process mentioning `dataDir` (postmaster or watchdog). */
function anythingOn(dataDir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(dataDir) && !/^\s*\d+\s+Z/.test(line));
}

test('initialises once, keeps data across restarts, and stops without leaving processes', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'notify-embedded-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  await chmod(parent, 0o755); // mkdtemp makes it 0700; run as root, the server's postgres user must pass through
  const dataDir = join(parent, 'nested', 'postgres'); // missing parents are created

  const first = await startEmbeddedPostgres({ dataDir, password: 's3cret/with:chars' });
  t.after(() => first.stop());
  assert.equal(first.initialised, true);
  assert.match(first.url, /^postgresql:\/\/postgres:s3cret%2Fwith%3Achars@127\.0\.0\.1:\d+\/postgres$/);
  assert.equal(await first.createDatabase('notify_auth'), true);
  assert.equal(await first.createDatabase('notify_auth'), false, 'idempotent');
  await query(first.urlFor('notify_auth'), 'CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ($$still here$$)');
  assert.equal(processesOn(dataDir).length, 1, 'one postmaster on the directory');

  await assert.rejects(startEmbeddedPostgres({ dataDir, password: 's3cret/with:chars' }), /already running on .*\(pid \d+/);

  await first.stop();
  await first.stop(); // idempotent
  assert.deepEqual(anythingOn(dataDir), [], 'no postgres (nor watchdog) left on the directory');
  assert.equal(existsSync(join(dataDir, 'postmaster.pid')), false, 'clean shutdown removed the lock file');

  const second = await startEmbeddedPostgres({ dataDir, password: 's3cret/with:chars' });
  t.after(() => second.stop());
  assert.equal(second.initialised, false, 'reused, not re-initialised');
  const rows = await query<{ v: string }>(second.urlFor('notify_auth'), 'SELECT v FROM kept');
  assert.deepEqual(rows, [{ v: 'still here' }]);
  await second.stop();
  assert.deepEqual(anythingOn(dataDir), []);
});

test('refuses a wrong password on an existing directory, clearly', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'notify-embedded-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startEmbeddedPostgres({ dataDir, password: 'one' });
  await server.stop();

  await assert.rejects(startEmbeddedPostgres({ dataDir, password: 'two' }), /initialised with another password/);
  assert.deepEqual(processesOn(dataDir), [], 'the failed start stopped its server');
});

test('an ephemeral server deletes its data directory on stop', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'notify-embedded-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startEmbeddedPostgres({ dataDir, ephemeral: true, port: 0 });
  assert.ok(existsSync(join(dataDir, 'PG_VERSION')));
  await server.stop();
  assert.equal(existsSync(dataDir), false);
  assert.deepEqual(processesOn(dataDir), []);
});

test('run as root, explains a data directory the postgres user cannot reach', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const closed = await mkdtemp(join(tmpdir(), 'notify-embedded-')); // mode 0700, owned by root
  t.after(() => rm(closed, { recursive: true, force: true }));
  await mkdir(join(closed, 'inner'));

  await assert.rejects(
    startEmbeddedPostgres({ dataDir: join(closed, 'inner', 'postgres') }),
    new RegExp(`cannot reach .*: ${closed} has mode 0700 .*chmod o\\+x`),
  );
});
