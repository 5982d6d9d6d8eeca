// A PostgreSQL server a test can kill like a crash (SIGKILL of the postmaster) and start again on
// the same data and port: for proving that clients survive the database's restart. It is its own
// server, not the run's shared one, since killing that would fail every other test file.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../dev/embedded-postgres.ts';

export interface KillablePostgres {
  /** URL of database `name` (the port stays the same across restarts). */
  urlFor(name: string): string;
  createDatabase(name: string): Promise<boolean>;
  readonly port: number;
  /** SIGKILL of the postmaster; resolves once no process of the server is left. */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory and port. */
  restart(): Promise<void>;
  /** Stops the server (if running) and deletes its data. */
  stop(): Promise<void>;
}

/**
 * A durable server (synchronous commit on: a crash loses nothing that was acknowledged) on a new
 * data directory and a free port. `settings` are added to the server's own.
 */
export async function startKillablePostgres(options: { settings?: Record<string, string | number>; log?: (message: string) => void } = {}): Promise<KillablePostgres> {
  const parent = await mkdtemp(join(tmpdir(), 'notify-killable-pg-'));
  await chmod(parent, 0o755); // run as root, the server's postgres user must pass through
  const dataDir = join(parent, 'data');
  // After a SIGKILL the server replays its write-ahead log before it takes a login. A checkpoint
  // every 30 s keeps that replay short; on a busy machine it can still take tens of seconds, and
  // the server says so (57P03) while it lives, so a restart waits up to 3 minutes for it.
  const start = (port?: number) =>
    startEmbeddedPostgres({
      dataDir,
      ...(port ? { port, startTimeoutMs: 180_000 } : {}),
      settings: { max_connections: 300, checkpoint_timeout: '30s', ...options.settings },
      ...(options.log ? { log: options.log } : {}),
    });
  let server: EmbeddedPostgres | undefined = await start();
  const first = server;
  return {
    port: first.port,
    urlFor: (name) => first.urlFor(name),
    createDatabase: (name) => (server ?? first).createDatabase(name),
    async kill() {
      if (!server) return;
      const { pid } = server;
      const children = childrenOf(pid);
      process.kill(pid, 'SIGKILL');
      server = undefined;
      // Backends notice their postmaster's death and exit; until they have, the data cannot be reused.
      const deadline = Date.now() + 30_000;
      while ([pid, ...children].some(alive)) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL processes on ${dataDir} outlived their postmaster by 30 s`);
        await sleep(50);
      }
    },
    async restart() {
      if (server) return;
      // A backend forked just before the kill may still hold the shared memory for a moment.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          server = await start(first.port);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(250);
        }
      }
    },
    async stop() {
      await server?.stop();
      server = undefined;
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** Process ids whose parent is `pid` (the postmaster's backends and helpers). */
function childrenOf(pid: number): number[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([, parent]) => parent === pid)
    .map(([child]) => child!);
}

/** Whether `pid` is a live (non-zombie) process. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false; // ps exits 1 once the process is gone
  }
}
