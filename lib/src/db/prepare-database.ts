// What a service that owns a database does at start: create the database if the server lacks it,
// then apply its migrations. A server that cannot be reached yet (still starting, restarting, or
// too busy to accept a connection within the connect time-out) is tried again for a while, so a
// service started next to a loaded or recovering PostgreSQL waits for it instead of exiting.
import { setTimeout as sleep } from 'node:timers/promises';
import { isUnreachable } from '../service/error-handler.ts';
import { ensureDatabase } from './database-admin.ts';
import { applyMigrations } from './migrate.ts';

/** How long a start keeps trying an unreachable server by default. */
const PREPARE_RETRY_MS = 60_000;

export async function prepareDatabase(options: {
  url: string;
  migrationsDir: string;
  log: { info: (fields: object, message: string) => void; warn: (fields: object, message: string) => void };
  /** Give up (throw the last error) once an unreachable server has been tried this long; default 60 s. */
  retryForMs?: number;
}): Promise<void> {
  const deadline = Date.now() + (options.retryForMs ?? PREPARE_RETRY_MS);
  for (let attempt = 1, pause = 250; ; attempt += 1, pause = Math.min(pause * 2, 2_000)) {
    try {
      if (await ensureDatabase(options.url)) options.log.info({}, 'database created');
      const { applied } = await applyMigrations({ connectionString: options.url, migrationsDir: options.migrationsDir });
      if (applied.length) options.log.info({ applied }, 'database migrations applied');
      return;
    } catch (error) {
      const unreachable = isUnreachable(error) || isUnreachable((error as { cause?: unknown } | null)?.cause);
      if (!unreachable || Date.now() + pause > deadline) throw error;
      options.log.warn({ err: error, attempt }, `database not reachable yet; trying again in ${pause} ms`);
      await sleep(pause);
    }
  }
}
