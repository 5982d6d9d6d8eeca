// Runs `prisma generate` for a schema, working around the schema engine download Prisma attempts first.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createError } from '../errors.ts';

export interface GeneratePrismaClientOptions {
  /** Path of schema.prisma. */
  schema: string;
  /** Working directory for the CLI (where it looks for prisma.config.ts). Default the current one. */
  cwd?: string;
  /** Forward the CLI's output to ours. Default true. */
  inheritOutput?: boolean;
}

/**
 * Generates a Prisma client from `schema`.
 *
 * The Prisma 7 CLI downloads its schema engine before any command, generate included, although
 * generate never runs it (the client generator is WebAssembly). Offline that download fails; naming
 * any existing file in PRISMA_SCHEMA_ENGINE_BINARY skips it. We do that only when the variable is
 * unset, so a real engine configured by the user still wins.
 */
export async function generatePrismaClient(options: GeneratePrismaClientOptions): Promise<'generated' | 'up to date'> {
  const schema = resolve(options.schema);
  // The client is a function of the schema and the CLI's version: when neither changed since the
  // last run, generating again (seconds of CPU on every start and test run) would write the same files.
  const stamp = stampOf(schema);
  if (stamp && existsSync(stamp.file) && readFileSync(stamp.file, 'utf8') === stamp.value) return 'up to date';
  const cli = prismaCliPath();
  const env = { ...process.env };
  env.PRISMA_SCHEMA_ENGINE_BINARY ??= existsSync('/bin/true') ? '/bin/true' : process.execPath;
  // Generation only: no update checks or telemetry calls from an offline machine.
  env.CHECKPOINT_DISABLE ??= '1';
  env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';

  const child = spawn(process.execPath, [cli, 'generate', '--schema', schema], {
    cwd: options.cwd ?? process.cwd(),
    env,
    stdio: options.inheritOutput === false ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolveExit, rejectExit) => {
    child.once('error', rejectExit);
    child.once('close', resolveExit);
  });
  if (code !== 0) {
    throw createError({ code: 'INTERNAL', message: `prisma generate --schema ${schema} exited with ${code}${output ? `:\n${output.trim()}` : ''}` });
  }
  if (stamp) writeFileSync(stamp.file, stamp.value);
  return 'generated';
}

/**
 * Where the generated client records what it was generated from (a file in the generator's
 * output folder, git-ignored with it), and the value for this schema and CLI version. Undefined
 * when the schema names no output folder.
 */
function stampOf(schema: string): { file: string; value: string } | undefined {
  const text = readFileSync(schema, 'utf8');
  const output = /^\s*output\s*=\s*"([^"]+)"/m.exec(text)?.[1];
  if (!output) return undefined;
  const require = createRequire(import.meta.url);
  const version = (require('prisma/package.json') as { version: string }).version;
  const value = createHash('sha256').update(`prisma ${version}\n`).update(text).digest('hex');
  return { file: join(resolve(dirname(schema), output), '.generated-from'), value };
}

/** The prisma CLI entry point, resolved from this package (prisma is a devDependency of @notify/lib). */
function prismaCliPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js');
}
