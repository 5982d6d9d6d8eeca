// Every key is validated at start: defaults when unset, a bad value stops the process with one
// line naming the variable. And every key is listed in .env.example.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '@notify/lib';
import { TEST_SERVICE_SECRET } from '@notify/lib/testing';
import { configSchema } from '../src/config.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** Required; never connected to here. */
const DATABASE_URL = 'postgresql://avatar@127.0.0.1:5432/avatar';

test('defaults: port 9000, a 64 MiB cache, one core left to the event loop, identicon; pictures up to 40 MP, stored at 1024 px in PostgreSQL', () => {
  const config = loadConfig(configSchema, { SERVICE_SECRET: TEST_SERVICE_SECRET, DATABASE_URL });
  assert.equal(config.PORT, 9000);
  assert.equal(config.CACHE_MAX_BYTES, 64 * 1024 * 1024);
  assert.equal(config.CACHE_MAX_ENTRIES, 100_000);
  assert.equal(config.MAX_CONCURRENT_RENDERS, Math.max(1, availableParallelism() - 1));
  assert.equal(config.MAX_CONCURRENT_PICTURE_RENDERS, availableParallelism());
  assert.equal(config.MAX_QUEUED_RENDERS, 1_000);
  assert.equal(config.RENDER_TIMEOUT_MS, 10_000);
  assert.equal(config.PNG_COMPRESSION_LEVEL, 6);
  assert.equal(config.DEFAULT_STYLE, 'identicon');
  assert.equal(config.BODY_LIMIT_BYTES, 5 * 1024 * 1024);
  assert.equal(config.PICTURE_MAX_PIXELS, 40_000_000);
  assert.equal(config.PICTURE_MAX_SIDE, 1024);
  assert.equal(config.PICTURE_STORE, 'postgres');
  assert.deepEqual(
    config.PRERENDER_VARIANTS.map((variant) => `${variant.size}:${variant.format}`),
    ['32:webp', '64:webp', '128:webp', '128:png', '256:webp'],
  );
  assert.deepEqual(loadConfig(configSchema, { SERVICE_SECRET: TEST_SERVICE_SECRET, DATABASE_URL, PRERENDER_VARIANTS: 'none' }).PRERENDER_VARIANTS, []);
  assert.ok(Object.isFrozen(config));
});

test('bad values name their variable', () => {
  const bad: Record<string, string>[] = [
    { CACHE_MAX_BYTES: '-1' },
    { CACHE_MAX_BYTES: 'lots' },
    { CACHE_MAX_ENTRIES: '0' },
    { MAX_CONCURRENT_RENDERS: '0' },
    { MAX_CONCURRENT_PICTURE_RENDERS: '0' },
    { MAX_QUEUED_RENDERS: '1.5' },
    { RENDER_TIMEOUT_MS: '0' },
    { PNG_COMPRESSION_LEVEL: '10' },
    { DEFAULT_STYLE: 'gravatar' },
    { DATABASE_URL: 'not a url' },
    { PICTURE_MAX_PIXELS: '0' },
    { PICTURE_MAX_SIDE: '8' },
    { PICTURE_STORE: 'disk' },
    { PRERENDER_VARIANTS: '128:gif' },
    { PRERENDER_VARIANTS: '4096:webp' },
    { WEBP_EFFORT: '7' },
    { AVIF_EFFORT: '-1' },
    { PORT: '70000' },
  ];
  for (const env of bad) {
    const [name] = Object.keys(env);
    assert.throws(() => loadConfig(configSchema, { SERVICE_SECRET: TEST_SERVICE_SECRET, DATABASE_URL, ...env }), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`invalid configuration: ${name}:`), name);
  }
});

test('the process stops at start with one clear line on a bad value', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'avatar/src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, SERVICE_SECRET: TEST_SERVICE_SECRET, DATABASE_URL, CACHE_MAX_BYTES: '-5', PORT: '0', DISCOVERY_REGISTER: 'false' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(run.status, 1);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^invalid configuration: CACHE_MAX_BYTES: .*\(got "-5"\)$/);
});

test('.env.example lists every key, and nothing else', () => {
  const listed = readFileSync(resolve(ROOT, 'avatar/.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => line.slice(0, line.indexOf('=')));
  assert.deepEqual(listed.sort(), Object.keys(configSchema.shape).sort());
});
