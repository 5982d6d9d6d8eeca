// Server-level database administration by URL: per-database URLs, idempotent create, drop.
import pg from 'pg';

/**
 * What two racing creators get: "database already exists" (42P04), or, when both passed the
 * catalog check at once, a unique violation on pg_database (23505).
 */
const ALREADY_CREATED = new Set(['42P04', '23505']);

/** The URL of database `name` on the server that `serverUrl` points at (same credentials, host, port, query). */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/**
 * Creates database `name` unless it exists (PostgreSQL has no CREATE DATABASE IF NOT EXISTS).
 * `serverUrl` names any database the user may connect to, usually `postgres`.
 * @returns true when this call created it.
 */
export async function createDatabase(serverUrl: string, name: string): Promise<boolean> {
  return withClient(serverUrl, async (client) => {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      // Another process created it between our check and our CREATE: the outcome we wanted.
      if (ALREADY_CREATED.has((error as { code?: string }).code ?? '')) return false;
      throw error;
    }
  });
}

/** PostgreSQL's "database does not exist" SQLSTATE. */
const INVALID_CATALOG_NAME = '3D000';

/**
 * Makes sure the database `url` names exists, creating it through the server's `postgres` database
 * when it does not (a fresh server, as in docker compose). A database that exists is never touched.
 * @returns true when this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  try {
    await withClient(url, async () => {});
    return false;
  } catch (error) {
    if ((error as { code?: string }).code !== INVALID_CATALOG_NAME) throw error;
  }
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  return createDatabase(databaseUrl(url, 'postgres'), name);
}

export interface DropDatabaseOptions {
  /** Terminate sessions still connected to it (PostgreSQL 13+ `WITH (FORCE)`); default false. */
  force?: boolean;
}

/** Drops database `name` if it exists. Without `force` it fails while anyone is still connected. */
export async function dropDatabase(serverUrl: string, name: string, options: DropDatabaseOptions = {}): Promise<void> {
  await withClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${options.force ? ' WITH (FORCE)' : ''}`);
  });
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  // 10 s: enough for a busy local server, short enough to fail visibly when it is not there.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {}); // a dropped connection fails the pending query; the event alone would crash us
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Prisma's unique-constraint violation (P2002): the row collides with one already stored. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}
