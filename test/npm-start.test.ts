// `npm start` as a person runs it: the banner once everything is passing, discovery listing what
// registered, Ctrl-C (or the launcher's death) leaving no process behind, and a second start
// beside a running one refused at once, naming the taken port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gone, npmStart } from './npm-start-helper.ts';
import { everyKindSurvivesKill9, VICTIMS } from './npm-start-restarts.ts';

const ROOT = new URL('..', import.meta.url).pathname;

test('npm start prints the banner, lists services in discovery, restarts any instance killed with kill -9, and Ctrl-C leaves nothing behind', async (t) => {
  const { npm, output, offset, postgresPid, registryToken } = await npmStart(t);
  const discoveryUrl = `http://127.0.0.1:${8000 + offset}`;
  assert.match(output(), new RegExp(`discovery-1 +${discoveryUrl.replaceAll('.', '\\.')} `), 'the banner names each URL');

  // The registry's ACLs are on: without a token nothing is listed and nothing may register.
  const registryHeaders = { 'x-consul-token': registryToken() };
  const entries = (await (await fetch(`${discoveryUrl}/v1/health/service/discovery?passing`, { headers: registryHeaders })).json()) as {
    Service: { ID: string; Port: number };
  }[];
  assert.deepEqual(entries.map((entry) => [entry.Service.ID, entry.Service.Port]), [['discovery-1', 8000 + offset]]);
  assert.equal(await (await fetch(`${discoveryUrl}/v1/health/service/persist`)).text(), '[]', 'an anonymous read sees nothing');
  const rogue = await fetch(`${discoveryUrl}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ ID: 'persist-1', Name: 'persist', Port: 1 }) });
  assert.equal(rogue.status, 403, 'an anonymous registration is refused');
  const services = (await (await fetch(`${discoveryUrl}/v1/agent/services`, { headers: registryHeaders })).json()) as Record<string, { Port: number }>;
  assert.equal(services['persist-1']?.Port, 6000 + offset, 'persist-1 is still the real one');
  assert.match(output(), /registry: +curl -H "X-Consul-Token: \$\(cat .*discovery-management-token\)"/, 'the banner says where the token is');
  assert.equal(((await (await fetch(`${discoveryUrl}/status`)).json()) as { state: string }).state, 'ready');
  // A person is pointed at the client, which knows where the gateway is, and at the mail sent.
  const clientUrl = `http://127.0.0.1:${3333 + offset}/`;
  assert.match(output(), new RegExp(`open: +${clientUrl.replaceAll('.', '\\.')} `), 'the banner names the client’s URL');
  assert.match(await (await fetch(clientUrl)).text(), /<div id="root">/);
  assert.deepEqual(await (await fetch(`${clientUrl}config.json`)).json(), { gatewayUrl: `http://127.0.0.1:${4000 + offset}` });
  assert.match(await (await fetch(`http://127.0.0.1:${8025 + offset}/`)).text(), /Mail received/);

  await t.test('kill -9 of each kind of instance: restarted, announced, and the system answers again', (sub) => everyKindSurvivesKill9(sub, { output, offset }));
  const status = (await (await fetch(`${discoveryUrl}/status`)).json()) as { pid: number };

  process.kill(-npm.pid!, 'SIGINT'); // what a terminal's Ctrl-C does
  const [code, signal] = await once(npm, 'exit');
  // npm itself exits by the SIGINT it was sent; the launcher under it must have finished first.
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${signal ?? code}:\n${output()}`);
  assert.match(output(), /all stopped/);
  assert.equal(output().match(/!! \S+ died/g)?.length, VICTIMS.length, 'no instance died but the ones killed');
  assert.ok(await gone(status.pid, 2_000), 'discovery (restarted) is gone');
  assert.ok(await gone(postgresPid, 2_000), 'PostgreSQL is gone');
  await assert.rejects(fetch(`${discoveryUrl}/health`), 'nothing listens any more');
});

test('if the launcher is killed outright, its children still stop (no orphans)', async (t) => {
  const { npm, offset, postgresPid, output } = await npmStart(t);
  const status = (await (await fetch(`http://127.0.0.1:${8000 + offset}/status`)).json()) as { pid: number };
  process.kill(-npm.pid!, 'SIGKILL'); // npm and the launcher die; the services run in groups of their own
  assert.ok(await gone(status.pid, 10_000), `discovery stopped when its launcher died:\n${output()}`);
  assert.ok(await gone(postgresPid, 10_000), 'PostgreSQL stopped when its launcher died');
});

test('a second npm start beside a running one exits 1 within seconds naming the taken port, and the first runs on', async (t) => {
  const first = await npmStart(t);
  const discoveryUrl = `http://127.0.0.1:${8000 + first.offset}`;
  const before = (await (await fetch(`${discoveryUrl}/status`)).json()) as { pid: number };
  const startedAt = Date.now();
  const second = spawnSync('npm', ['start'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PORT_OFFSET: String(first.offset), NOTIFY_DATA_DIR: join(tmpdir(), 'notify-second-start-never-used'), DATABASE_URL: '' },
    timeout: 60_000,
  });
  const took = Date.now() - startedAt;
  t.diagnostic(`the second start was refused in ${took} ms`);
  assert.equal(second.status, 1, `the second start fails:\n${second.stdout}${second.stderr}`);
  assert.match(second.stdout, new RegExp(`port ${8000 + first.offset} \\(discovery-1\\) is taken by pid ${before.pid} `), second.stdout);
  assert.match(second.stdout, new RegExp(`port ${6000 + first.offset} \\(persist-1\\) is taken by pid \\d+ \\(.*persist/src/server\\.ts`), second.stdout);
  assert.doesNotMatch(second.stdout, /prisma|notify platform is up/, 'nothing generated, built or started first');
  assert.ok(took < 30_000, `refused within seconds (${took} ms)`);
  const after = (await (await fetch(`${discoveryUrl}/status`)).json()) as { pid: number; state: string };
  assert.deepEqual([after.pid, after.state], [before.pid, 'ready'], 'the first system is untouched');
  assert.ok(!first.output().includes('exited unexpectedly'), first.output());
});
