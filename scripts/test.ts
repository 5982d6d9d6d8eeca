// `npm run test:all`: one PostgreSQL for the whole run, then node's test runner over every test file.
// Arguments narrow the run to the given files: `npm run test:all -- lib/test/config.test.ts`.
import { spawn } from 'node:child_process';
import { globSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestPostgres } from '../lib/src/testing/postgres.ts';

const root = resolve(import.meta.dirname, '..');
process.chdir(root);

// Test files of every workspace and the system-level ones; node 20's runner would not expand these.
const PATTERNS = ['*/test/**/*.test.ts', 'test/**/*.test.ts'];
/**
 * Files that load the machine most (a system of a dozen processes under load, killed in turn):
 * started last, so they overlap with as few other files as possible. One run, one summary.
 */
const RUN_LAST = new Set(['test/chaos.short-run-keeps-every-promise.test.ts']);
const requested = process.argv.slice(2);
const files = requested.length
  ? requested
  : PATTERNS.flatMap((pattern) => globSync(pattern, { exclude: (name) => name.includes('node_modules') }))
      .sort()
      .sort((a, b) => Number(RUN_LAST.has(a)) - Number(RUN_LAST.has(b)));
const missing = requested.length ? [] : [...RUN_LAST].filter((file) => !files.includes(file));
if (missing.length) {
  console.error(`scripts/test.ts names test files that do not exist: ${missing.join(', ')}`);
  process.exit(1);
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

// Test files mostly wait on sockets and child processes, so more run at once than there are cores.
const concurrency = process.env.TEST_CONCURRENCY ?? '4';

const postgres = await startTestPostgres();
let code = 1;
try {
  code = await new Promise<number>((done) => {
    const runner = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
      { stdio: 'inherit', env: { ...process.env, TEST_DATABASE_URL: postgres.url, NOTIFY_TEST_RUN: String(process.pid) } },
    );
    const forward = (signal: NodeJS.Signals) => runner.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    runner.on('exit', (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0)));
  });
} finally {
  await postgres.stop();
  rmSync(join(tmpdir(), `notify-system-slots-${process.pid}`), { recursive: true, force: true }); // test/npm-start-helper.ts
}
process.exit(code);
