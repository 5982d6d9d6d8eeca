// prepareDatabase at a service's start: a server that drops or refuses the first connections (still
// starting, restarting, overloaded) is tried again until it answers; a real failure is not retried.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { prepareDatabase } from '../../src/db/index.ts';
import { databaseUrl, dropDatabase } from '../../src/dev/index.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { copyMigrations, NOTES_MIGRATIONS_DIR, tableNames } from './helper.ts';

/** A TCP proxy to `target` that hangs up on the first `refuse` connections it accepts. */
async function flakyProxy(t: TestContext, target: URL, refuse: number): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    accepted += 1;
    if (accepted <= refuse) return void client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

function recordingLog() {
  const warnings: string[] = [];
  return { warnings, log: { info: () => {}, warn: (_fields: object, message: string) => void warnings.push(message) } };
}

test('prepareDatabase tries a server that hangs up again until it answers, then creates and migrates', async (t) => {
  const server = await testDatabase(t);
  const name = `prepare_${randomUUID().slice(0, 8)}`;
  t.after(() => dropDatabase(server.url, name, { force: true }));
  const proxy = await flakyProxy(t, new URL(server.url), 3);
  const viaProxy = new URL(databaseUrl(server.url, name));
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const { warnings, log } = recordingLog();

  await prepareDatabase({ url: viaProxy.href, migrationsDir: NOTES_MIGRATIONS_DIR, log });

  assert.equal(warnings.length, 3, `one warning per refused connection: ${warnings.join(' | ')}`);
  assert.match(warnings[0]!, /database not reachable yet; trying again/);
  assert.ok(proxy.accepted() > 3);
  assert.ok((await tableNames(databaseUrl(server.url, name))).length > 0, 'the migrations were applied');
});

test('prepareDatabase gives up on a server that never answers after its retry window', async (t) => {
  const proxy = await flakyProxy(t, new URL('postgres://127.0.0.1:1'), Number.MAX_SAFE_INTEGER);
  const { warnings, log } = recordingLog();
  await assert.rejects(
    prepareDatabase({ url: `postgres://postgres@127.0.0.1:${proxy.port}/nothing`, migrationsDir: NOTES_MIGRATIONS_DIR, log, retryForMs: 1_000 }),
    /Connection terminated|ECONNRESET/,
  );
  assert.ok(warnings.length >= 1, 'it tried again before giving up');
});

test('prepareDatabase does not retry a failure that is not about reaching the server', async (t) => {
  const server = await testDatabase(t);
  const dir = await copyMigrations(t);
  await writeFile(`${dir}/20250102000000_add_read_at/migration.sql`, 'THIS IS NOT SQL;');
  const { warnings, log } = recordingLog();
  await assert.rejects(prepareDatabase({ url: server.url, migrationsDir: dir, log }), /migration 20250102000000_add_read_at failed/);
  assert.deepEqual(warnings, []);
});
