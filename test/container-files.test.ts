// docker-compose.yml and the Dockerfile stay true to the native run: compose accepts the file,
// the image installs every workspace, and containers start services the way `npm start` does.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { freeBadPort } from '../lib/src/testing/bad-port.ts';
import { DISCOVERY, SERVICES } from '../scripts/launcher/topology.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
const execFileAsync = promisify(execFile);
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

test('docker-compose config accepts docker-compose.yml', { skip: hasCompose ? false : 'docker-compose is not installed: apt-get install -y docker-compose' }, () => {
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
});

test('the image installs every workspace and runs entries the way npm start does', () => {
  const dockerfile = read('Dockerfile');
  const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  for (const workspace of workspaces) {
    assert.match(dockerfile, new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'), `Dockerfile copies ${workspace}/package.json before npm ci`);
  }
  assert.match(dockerfile, /exec node --import tsx \$\{WORKSPACE\}\/src\/server\.ts/);
  const deployed = [DISCOVERY, ...SERVICES].filter((spec) => !spec.localOnly);
  for (const spec of deployed) {
    assert.equal(spec.entry, `${spec.entry.split('/')[0]}/src/server.ts`, `${spec.id} starts from <workspace>/src/server.ts, as in the image`);
  }
  const compose = read('docker-compose.yml');
  for (const spec of deployed) {
    assert.match(compose, new RegExp(`WORKSPACE: ${spec.entry.split('/')[0]}$`, 'm'), `compose builds ${spec.service}`);
  }
});

test('compose healthchecks written in node reach ports fetch refuses (persist listens on 6000)', async (t) => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, { healthcheck?: { test?: string[] } }> };
  const scripts = Object.entries(compose.services).flatMap(([name, service]) => {
    const command = service.healthcheck?.test ?? [];
    return command[1] === 'node' && command[2] === '-e' ? [[name, command[3]!] as const] : [];
  });
  assert.ok(scripts.length >= 10, `node healthchecks found: ${scripts.length}`);
  // A real server on a Fetch "bad port" (6000 itself may be in use by an npm start test).
  const port = await freeBadPort();
  const server = createServer((_request, response) => response.end('{"status":"ok"}'));
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  t.after(() => server.close());
  for (const [name, script] of scripts) {
    assert.doesNotMatch(script, /\bfetch\(/, `${name}'s healthcheck does not use fetch`);
    const onBadPort = script.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`);
    // Asynchronously: the server answering it runs in this process.
    await execFileAsync(process.execPath, ['-e', onBadPort], { timeout: 30_000 }).catch((error: Error) =>
      assert.fail(`${name}'s healthcheck fails against a healthy server on port ${port}: ${error.message}`),
    );
  }
});
