// `npm start` as a person runs it: the banner once everything is passing, discovery listing what
// registered, and Ctrl-C (or the launcher's death) leaving no process behind.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** `npm start` in its own process group (as a terminal runs it), on shifted ports and a temp data dir. */
async function npmStart(t: TestContext): Promise<{ npm: ChildProcess; output: () => string; offset: number; postgresPid: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-start-'));
  chmodSync(dataDir, 0o777); // PostgreSQL runs as the `postgres` user when we are root
  // Every port (2000-9000 plus the offset) stays below Linux's ephemeral range (32768+), where
  // other tests' port-0 servers and outgoing connections would collide with it.
  const offset = 10_000 + Math.floor(Math.random() * 13_000);
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT_OFFSET: String(offset), NOTIFY_DATA_DIR: dataDir, DATABASE_URL: '' },
  });
  let output = '';
  npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    assert.ok(npm.exitCode === null, `npm start exited early:\n${output}`);
    assert.ok(Date.now() < deadline, `no ready banner within 60 s:\n${output}`);
    await sleep(100);
  }
  const postgresPid = Number(/PostgreSQL .*started on .* \(pid (\d+)\)/.exec(output)?.[1]);
  assert.ok(postgresPid > 0, `the launcher names the PostgreSQL pid:\n${output}`);
  return { npm, output: () => output, offset, postgresPid };
}

test('npm start prints the banner, lists services in discovery, and Ctrl-C leaves nothing behind', async (t) => {
  const { npm, output, offset, postgresPid } = await npmStart(t);
  const discoveryUrl = `http://127.0.0.1:${8000 + offset}`;
  assert.match(output(), new RegExp(`discovery-1 +${discoveryUrl.replaceAll('.', '\\.')} `), 'the banner names each URL');

  const entries = (await (await fetch(`${discoveryUrl}/v1/health/service/discovery?passing`)).json()) as {
    Service: { ID: string; Port: number };
  }[];
  assert.deepEqual(entries.map((entry) => [entry.Service.ID, entry.Service.Port]), [['discovery-1', 8000 + offset]]);
  const status = (await (await fetch(`${discoveryUrl}/status`)).json()) as { pid: number; state: string };
  assert.equal(status.state, 'ready');
  // A person is pointed at the client, which knows where the gateway is, and at the mail sent.
  const clientUrl = `http://127.0.0.1:${3333 + offset}/`;
  assert.match(output(), new RegExp(`open: +${clientUrl.replaceAll('.', '\\.')} `), 'the banner names the client’s URL');
  assert.match(await (await fetch(clientUrl)).text(), /<div id="root">/);
  assert.deepEqual(await (await fetch(`${clientUrl}config.json`)).json(), { gatewayUrl: `http://127.0.0.1:${4000 + offset}` });
  assert.match(await (await fetch(`http://127.0.0.1:${8025 + offset}/`)).text(), /Mail received/);

  process.kill(-npm.pid!, 'SIGINT'); // what a terminal's Ctrl-C does
  const [code, signal] = await once(npm, 'exit');
  // npm itself exits by the SIGINT it was sent; the launcher under it must have finished first.
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${signal ?? code}:\n${output()}`);
  assert.match(output(), /all stopped/);
  assert.ok(!output().includes('exited unexpectedly'), output());
  assert.ok(await gone(status.pid, 2_000), 'discovery is gone');
  assert.ok(await gone(postgresPid, 2_000), 'PostgreSQL is gone');
  await assert.rejects(fetch(`${discoveryUrl}/health`), 'nothing listens any more');
});

test('if the launcher is killed outright, its children still stop (no orphans)', async (t) => {
  const { npm, offset, postgresPid, output } = await npmStart(t);
  const status = (await (await fetch(`http://127.0.0.1:${8000 + offset}/status`)).json()) as { pid: number };
  process.kill(-npm.pid!, 'SIGKILL'); // npm and the launcher die; the services run in groups of their own
  assert.ok(await gone(status.pid, 10_000), `discovery stopped when its launcher died:\n${output()}`);
  assert.ok(await gone(postgresPid, 10_000), 'PostgreSQL stopped when its launcher died');
});
