// Real PostgreSQL for integration tests: one throw-away server per test run, a fresh database per test file.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { databaseUrl, createDatabase, dropDatabase } from '../db/database-admin.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../dev/embedded-postgres.ts';
import { applyMigrations } from '../db/migrate.ts';

/** Set by the test-run script to the shared server's URL; test files create their databases there. */
export const TEST_DATABASE_URL_ENV = 'TEST_DATABASE_URL';

/**
 * Durability off: a test server's data is thrown away, and fsync per commit would dominate test time.
 * 300 connections: test files run in parallel, each with its own pools.
 */
const TEST_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 300 };

export interface StartTestPostgresOptions {
  log?: (message: string) => void;
  /** Whether the server keeps the event loop alive. Default true. */
  keepAlive?: boolean;
}

/**
 * Starts the run's PostgreSQL: a new data directory under the OS temp dir, a free port, durability off.
 * Its `stop()` deletes the directory; so does a watchdog if this process dies first.
 * Put its `url` in TEST_DATABASE_URL for the test processes.
 */
export async function startTestPostgres(options: StartTestPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = await mkdtemp(join(tmpdir(), 'notify-test-pg-'));
  return startEmbeddedPostgres({
    dataDir,
    ephemeral: true,
    settings: TEST_SETTINGS,
    ...(options.log ? { log: options.log } : {}),
    ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
  });
}

/** What names a test database: a test context (its file and name are used) or any label. */
export type TestDatabaseOwner = string | { name: string; filePath?: string | undefined };

export interface TestDatabaseOptions {
  /** A Prisma migrations folder to apply to the new database. */
  migrationsDir?: string;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops it now; fails while connections to it are open. Otherwise it is dropped when the process exits. */
  drop(): Promise<void>;
}

let privateServer: Promise<EmbeddedPostgres> | undefined;
const createdDatabases = new Map<string, string>(); // name → server URL
let cleanupRegistered = false;

/**
 * A new, uniquely named database for `owner` on the server named by TEST_DATABASE_URL, or, when that
 * is unset (one file run directly), on a private server this process starts once and stops on exit.
 * It is dropped when the process runs out of work (`beforeExit`), by which time every pool is closed;
 * a `t.after` hook would run before the test's own close hooks (node:test runs them in order added).
 */
export async function testDatabase(owner: TestDatabaseOwner, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = await testServerUrl();
  const name = databaseName(owner);
  await createDatabase(serverUrl, name);
  createdDatabases.set(name, serverUrl);
  registerCleanup();
  const url = databaseUrl(serverUrl, name);
  if (options.migrationsDir) await applyMigrations({ connectionString: url, migrationsDir: options.migrationsDir });
  return {
    name,
    url,
    drop: async () => {
      await dropDatabase(serverUrl, name);
      createdDatabases.delete(name);
    },
  };
}

async function testServerUrl(): Promise<string> {
  const shared = process.env[TEST_DATABASE_URL_ENV];
  if (shared) return shared;
  // Not kept alive: the test runner's own work decides when this process is done.
  privateServer ??= startTestPostgres({ keepAlive: false });
  return (await privateServer).url;
}

function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('beforeExit', () => {
    void cleanup();
  });
}

async function cleanup(): Promise<void> {
  if (privateServer) {
    // The whole private server goes, its databases with it.
    await (await privateServer).stop();
    return;
  }
  for (const [name, serverUrl] of createdDatabases) {
    // Best effort: a database something still holds open is left for the run's server to take away.
    await dropDatabase(serverUrl, name).catch(() => {});
  }
  createdDatabases.clear();
}

/** `test_<file>_<test>_<random>`, lower-case, within PostgreSQL's 63-byte identifier limit. */
function databaseName(owner: TestDatabaseOwner): string {
  const label =
    typeof owner === 'string' ? owner : `${owner.filePath ? basename(owner.filePath).replace(/\.test\.[cm]?[jt]s$/, '') : ''}_${owner.name}`;
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  return `test_${slug}_${randomBytes(4).toString('hex')}`;
}
