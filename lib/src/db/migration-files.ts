// Prisma's migrations folder on disk (`<name>/migration.sql`) and its checksum rules.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createError } from '../errors.ts';

export interface MigrationFile {
  /** Directory name, e.g. `20250101000000_init`; what `_prisma_migrations.migration_name` holds. */
  name: string;
  /** Absolute path of its migration.sql. */
  path: string;
  script: string;
  /** sha256 of the file's bytes, lowercase hex: what Prisma stores in `_prisma_migrations.checksum`. */
  checksum: string;
}

/** The migrations in `migrationsDir`, in the order Prisma applies them (directory name). */
export async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch((cause: unknown) => {
    throw createError({ code: 'INTERNAL', message: `cannot read migrations directory ${migrationsDir}`, cause });
  });
  const names = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const path = join(migrationsDir, name, 'migration.sql');
      const bytes = await readFile(path).catch((cause: unknown) => {
        throw createError({ code: 'INTERNAL', message: `migration ${name} has no readable migration.sql (${path})`, cause, details: { migration: name } });
      });
      return { name, path, script: bytes.toString('utf8'), checksum: sha256(bytes) };
    }),
  );
}

/**
 * Whether `script` matches a checksum Prisma recorded. Like Prisma, it tolerates line endings changed by
 * git (LF vs CRLF) and the unpadded hex that old Prisma versions wrote (prisma/prisma-engines#1887).
 */
export function scriptMatchesChecksum(script: string, recorded: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant, 'utf8').digest();
    const rendered = recorded.length === 64 ? digest.toString('hex') : [...digest].map((byte) => byte.toString(16)).join('');
    return rendered === recorded;
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
