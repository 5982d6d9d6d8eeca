// Builds the React app into client/dist with Vite when the build is missing or older than any of
// its sources, so `npm start` on a fresh clone serves a current app without a separate step.
import { globSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';

export const CLIENT_ROOT = join(import.meta.dirname, '..');
export const DIST = join(CLIENT_ROOT, 'dist');
const SOURCES = ['index.html', 'vite.config.ts', 'src/app/**/*', '../lib/src/rpc/**/*', '../lib/src/contracts/shapes.ts', '../lib/src/errors.ts'];

function newestSource(): number {
  return Math.max(...SOURCES.flatMap((pattern) => globSync(pattern, { cwd: CLIENT_ROOT })).map((file) => statSync(join(CLIENT_ROOT, file)).mtimeMs));
}

function builtAt(): number | undefined {
  try {
    return statSync(join(DIST, 'index.html')).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Builds when needed (or when `force`); resolves with whether it built. */
export async function buildIfStale(options: { force?: boolean; log?: (message: string) => void } = {}): Promise<boolean> {
  const built = builtAt();
  if (!options.force && built !== undefined && built >= newestSource()) return false;
  options.log?.('building the client (vite)');
  await build({ root: CLIENT_ROOT, configFile: join(CLIENT_ROOT, 'vite.config.ts'), logLevel: 'warn' });
  return true;
}
