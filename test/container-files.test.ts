// docker-compose.yml and the Dockerfile stay true to the native run: compose accepts the file,
// the image installs every workspace, and containers start services the way `npm start` does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DISCOVERY, SERVICES } from '../scripts/launcher/topology.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
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
