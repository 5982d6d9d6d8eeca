// What a service that owns a database does at start: create the database if the server lacks it,
// then apply its migrations.
import { ensureDatabase } from './database-admin.ts';
import { applyMigrations } from './migrate.ts';

export async function prepareDatabase(options: {
  url: string;
  migrationsDir: string;
  log: { info: (fields: object, message: string) => void };
}): Promise<void> {
  if (await ensureDatabase(options.url)) options.log.info({}, 'database created');
  const { applied } = await applyMigrations({ connectionString: options.url, migrationsDir: options.migrationsDir });
  if (applied.length) options.log.info({ applied }, 'database migrations applied');
}
