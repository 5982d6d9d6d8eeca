// The server process: spawn, readiness, shutdown escalation, and the watchdog that outlives a crash of ours.
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { createError } from '../errors.ts';
import { SUPERUSER, type RunAs } from './postgres-cluster.ts';

/** Only loopback: the embedded server is for this machine's services and tests. */
export const HOST = '127.0.0.1';

/** Starts the postmaster detached, its output going to `logFile`; resolves once the process exists. */
export async function spawnServer(args: {
  postgres: string;
  dataDir: string;
  port: number;
  logFile: string;
  runAs: RunAs | undefined;
  settings: Record<string, string | number>;
}): Promise<ChildProcess> {
  const logHandle = await open(args.logFile, 'w');
  try {
    const settings = Object.entries(args.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    const child = spawn(
      args.postgres,
      // No Unix socket (-k ''): the default socket directory may not exist or be writable here.
      ['-D', args.dataDir, '-p', String(args.port), '-h', HOST, '-k', '', ...settings],
      {
        ...args.runAs,
        // Own process group: a terminal's Ctrl-C reaches the launcher, which drains services before stopping us.
        detached: true,
        // A file, not a pipe: nothing to drain, and nothing that blocks the server if we stop reading.
        stdio: ['ignore', logHandle.fd, logHandle.fd],
        env: { ...process.env, LC_ALL: 'C' },
      },
    );
    await new Promise<void>((resolveSpawn, rejectSpawn) => {
      child.once('spawn', resolveSpawn);
      child.once('error', rejectSpawn);
    });
    return child;
  } finally {
    await logHandle.close();
  }
}

/** Resolves once the server accepts a login; fails fast when it exits, rejects the password, or `deadline` (epoch ms) passes. */
export async function waitUntilReady(url: string, child: ChildProcess, deadline: number, logFile: string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw createError({ code: 'INTERNAL', message: `PostgreSQL exited during start (${child.exitCode ?? child.signalCode}):\n${await logTail(logFile)}` });
    }
    // 2 s per attempt: the server answers in ms once listening; refusals before that are immediate.
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if ((error as { code?: string }).code === '28P01') {
        throw createError({
          code: 'INTERNAL',
          message: `PostgreSQL rejected the password for ${SUPERUSER}: the data directory was initialised with another password`,
          cause: error,
        });
      }
      if (Date.now() > deadline) {
        throw createError({ code: 'TIMEOUT', message: `PostgreSQL did not accept connections in time:\n${await logTail(logFile)}`, cause: error });
      }
    }
    // 50 ms between attempts: start-up takes ~0.5-2 s, so this costs at most one poll of latency.
    await sleep(50);
  }
}

/**
 * Stops the postmaster: SIGINT (fast shutdown: ends sessions, checkpoints), then after 10 s SIGQUIT
 * (immediate shutdown, recovery on next start), then after 5 s SIGKILL. Resolves once it has exited.
 */
export async function terminate(child: ChildProcess): Promise<void> {
  child.ref(); // wait for it even when the server was started with keepAlive: false
  const steps: [NodeJS.Signals, number][] = [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]];
  for (const [signal, waitMs] of steps) {
    if (hasExited(child)) return;
    child.kill(signal);
    if (await exitWithin(child, waitMs)) return;
  }
}

/**
 * A `sh` process that SIGINTs the server when our process dies without stopping it (crash, SIGKILL):
 * it blocks reading a pipe from us, and the kernel closes that pipe however we exit.
 * "Still running" means postmaster.pid exists and the pid answers: an exited server can linger as a
 * zombie until its new parent reaps it. After 10 s it escalates to SIGQUIT. For an ephemeral cluster
 * it then removes the data directory.
 */
export function startWatchdog(pid: number, dataDir: string, remove: boolean): ChildProcess | undefined {
  if (process.platform === 'win32') return undefined;
  const script = [
    'read -r _',
    'kill -INT "$1" 2>/dev/null',
    'running() { [ -e "$2/postmaster.pid" ] && kill -0 "$1" 2>/dev/null; }',
    'i=0; while running "$@" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    'if running "$@"; then kill -QUIT "$1" 2>/dev/null; sleep 1; fi',
    'if [ "$3" = remove ]; then rm -rf "$2"; fi',
  ].join('\n');
  const watchdog = spawn('/bin/sh', ['-c', script, 'notify-postgres-watchdog', String(pid), dataDir, remove ? 'remove' : 'keep'], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', () => {});
  // Neither the process nor its pipe may keep our event loop alive: it exists only for when we are gone.
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  return watchdog;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolveExit) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolveExit(false);
    }, ms);
    timer.unref();
    const onExit = (): void => {
      clearTimeout(timer);
      resolveExit(true);
    };
    child.once('exit', onExit);
  });
}

/** A TCP port on HOST that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, HOST, resolveListen);
  });
  const address = server.address();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  if (address === null || typeof address === 'string') throw new Error('could not probe a free port');
  return address.port;
}

/** The last `lines` lines of the server log, for error messages. */
export async function logTail(logFile: string, lines = 20): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms).unref());
}
