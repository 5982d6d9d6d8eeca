// Environment configuration: defaults, coercion, and one clear line naming a bad variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { z } from 'zod';
import { baseConfigShape, ConfigError, describeConfig, env, loadConfig } from '../src/config.ts';

const schema = z.object({ ...baseConfigShape({ port: 6000 }), POOL_SIZE: env.int(10, 'Connections in the pool', 1) });
/** Every service needs its deployment's secret: there is no default to fall back on. */
const SECRET = { SERVICE_SECRET: 'x'.repeat(32) };

test('defaults apply and values are coerced and frozen', () => {
  const config = loadConfig(schema, { ...SECRET, PORT: '6001', DISCOVERY_REGISTER: 'no', POOL_SIZE: '' });
  assert.equal(config.PORT, 6001);
  assert.equal(config.DISCOVERY_REGISTER, false);
  assert.equal(config.POOL_SIZE, 10, 'an empty variable counts as unset');
  assert.equal(config.DISCOVERY_URL, 'http://127.0.0.1:8000');
  assert.equal(config.HOST, '127.0.0.1', 'a service listens on loopback unless told otherwise');
  assert.equal(config.OPERATOR_TOKEN, undefined);
  assert.ok(Object.isFrozen(config));
});

test('a service without SERVICE_SECRET, or with a short one, is refused with one line', () => {
  assert.throws(() => loadConfig(schema, {}), (error: Error) => error instanceof ConfigError && /^invalid configuration: SERVICE_SECRET: /.test(error.message) && !error.message.includes('\n'));
  assert.throws(() => loadConfig(schema, { SERVICE_SECRET: 'short' }), (error: Error) => error instanceof ConfigError && error.message.includes('at least 32 characters'));
});

test('a bad value throws one line naming the variable and the value', () => {
  for (const [name, value] of [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['POOL_SIZE', '0'],
    ['DISCOVERY_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['DISCOVERY_REGISTER', 'maybe'],
  ]) {
    assert.throws(
      () => loadConfig(schema, { ...SECRET, [name!]: value }),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.startsWith(`invalid configuration: ${name}: `) &&
        error.message.includes(JSON.stringify(value)) &&
        !error.message.includes('\n'),
      `${name}=${value}`,
    );
  }
});

test('describeConfig lists every key with its default and description', () => {
  const rows = describeConfig(schema);
  const pool = rows.find((row) => row.name === 'POOL_SIZE');
  assert.deepEqual(pool, { name: 'POOL_SIZE', default: '10', description: 'Connections in the pool' });
  assert.equal(rows.find((row) => row.name === 'PORT')?.default, '6000');
  assert.ok(rows.every((row) => row.description.length > 0), 'every key is described');
});

test('a service started with a bad variable exits 1 with one line on stderr', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'discovery/src/server.ts'], {
    cwd: new URL('../..', import.meta.url),
    env: { ...process.env, PORT: 'abc' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim(), 'invalid configuration: PORT: Invalid input: expected number, received NaN (got "abc")');
});

test('a port browsers must reach refuses the Fetch bad ports with one line naming the variable', () => {
  const browser = z.object(baseConfigShape({ port: 4000, browser: true }));
  assert.equal(loadConfig(browser, SECRET).PORT, 4000);
  assert.equal(loadConfig(browser, { ...SECRET, PORT: '0' }).PORT, 0);
  for (const bad of ['6000', '6667', '10080', '5060']) {
    assert.throws(() => loadConfig(browser, { ...SECRET, PORT: bad }), (error: Error) => error instanceof ConfigError && error.message === `invalid configuration: PORT: is a port browsers refuse (a Fetch "bad port"); choose another (got "${bad}")`);
  }
  // Services only other services call may sit on one: they are called through undici, not fetch.
  assert.equal(loadConfig(z.object(baseConfigShape({ port: 6000 })), SECRET).PORT, 6000);
});
