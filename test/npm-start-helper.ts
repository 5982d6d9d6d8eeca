// `npm start` as a person runs it, for the system tests: in its own process group (as a terminal
// runs it), on a temp data dir, with or without a port offset; and checks that processes are gone.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { request } from 'undici';

const ROOT = new URL('..', import.meta.url).pathname;

export interface NpmStart {
  npm: ChildProcess;
  output(): string;
  offset: number;
  postgresPid: number;
  /** The run's registry management token, from where the banner says it is kept. */
  registryToken(): string;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (polling) until `pid` is gone; false when it is still alive after `timeoutMs`. */
export async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Under `npm test` (which names its run in NOTIFY_TEST_RUN), at most SYSTEM_SLOTS whole systems run
 * at once: four of them (60 processes) on 2 busy cores once took over 120 s to come up. A slot is a
 * file holding its owner's pid; one whose owner died is free again. Outside a run, no limit.
 */
const SYSTEM_SLOTS = 2;

/** Waits for a slot; resolves to its release. */
async function takeSystemSlot(): Promise<() => void> {
  const run = process.env.NOTIFY_TEST_RUN;
  if (!run) return () => {};
  const dir = join(tmpdir(), `notify-system-slots-${run}`);
  mkdirSync(dir, { recursive: true });
  for (;;) {
    for (let slot = 0; slot < SYSTEM_SLOTS; slot += 1) {
      const file = join(dir, `slot-${slot}`);
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        return () => rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(readFileSync(file, 'utf8'));
        if (owner > 0 && !alive(owner)) rmSync(file, { force: true });
      }
    }
    await sleep(500);
  }
}

/**
 * Runs `npm start` and resolves at its ready banner. `offset` 0 runs the shipped defaults (no
 * PORT_OFFSET at all); by default a random offset keeps every port (2000-9090 plus it) below
 * Linux's ephemeral range (32768+), where other tests' port-0 servers would collide with it.
 */
export async function npmStart(t: TestContext, options: { offset?: number; readyTimeoutMs?: number } = {}): Promise<NpmStart> {
  const releaseSlot = await takeSystemSlot();
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-start-'));
  chmodSync(dataDir, 0o777); // PostgreSQL runs as the `postgres` user when we are root
  const offset = options.offset ?? 10_000 + Math.floor(Math.random() * 13_000);
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_DATA_DIR: dataDir, DATABASE_URL: '' };
  if (offset) env.PORT_OFFSET = String(offset);
  else delete env.PORT_OFFSET;
  const npm = spawn('npm', ['start'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    releaseSlot();
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
  const deadline = Date.now() + readyTimeoutMs;
  while (!output.includes('Ctrl-C stops everything.')) {
    assert.ok(npm.exitCode === null, `npm start exited early:\n${output}`);
    assert.ok(Date.now() < deadline, `no ready banner within ${readyTimeoutMs / 1000} s:\n${output}`);
    await sleep(100);
  }
  const postgresPid = Number(/PostgreSQL .*started on .* \(pid (\d+)\)/.exec(output)?.[1]);
  assert.ok(postgresPid > 0, `the launcher names the PostgreSQL pid:\n${output}`);
  const registryToken = () => readFileSync(join(dataDir, 'discovery-management-token'), 'utf8');
  return { npm, output: () => output, offset, postgresPid, registryToken };
}

/** GET `url` through undici (some of the system's ports are ones fetch refuses): its JSON, asserting a 200. */
export async function getJson<T>(url: string): Promise<T> {
  const answer = await request(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(answer.statusCode, 200, url);
  return (await answer.body.json()) as T;
}

/** Polls `probe` until it returns a value (bounded generously: CI machines are busy). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}
