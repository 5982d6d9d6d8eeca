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
import { TOPOLOGY } from '../lib/src/testing/topology.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
const execFileAsync = promisify(execFile);
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

const COMPOSE_SECRETS = {
  POSTGRES_PASSWORD: 'pg-secret',
  POSTGRES_EXPORTER_PASSWORD: 'pg-exporter-secret',
  AUTH_REPLICATION_SECRET: 'replication-secret',
  GATEWAY_UNSUBSCRIBE_SECRET: 'unsubscribe-secret-of-at-least-32-characters',
  GRAFANA_ADMIN_PASSWORD: 'grafana-secret',
  SERVICE_SECRET: 'service-secret-of-at-least-32-characters',
  OPERATOR_TOKEN: 'operator-token',
  AUTH_DB_PASSWORD: 'auth-db',
  COUNTER_DB_PASSWORD: 'counter-db',
  PERSIST_DB_PASSWORD: 'persist-db',
  MAILER_DB_PASSWORD: 'mailer-db',
  GATEWAY_DB_PASSWORD: 'gateway-db',
  AVATAR_DB_PASSWORD: 'avatar-db',
  DISCOVERY_MANAGEMENT_TOKEN: 'registry-management-token',
  AUTH_DISCOVERY_TOKEN: 'registry-token-of-auth',
  COUNTER_DISCOVERY_TOKEN: 'registry-token-of-counter',
  PERSIST_DISCOVERY_TOKEN: 'registry-token-of-persist',
  MAILER_DISCOVERY_TOKEN: 'registry-token-of-mailer',
  AVATAR_DISCOVERY_TOKEN: 'registry-token-of-avatar',
  GATEWAY_DISCOVERY_TOKEN: 'registry-token-of-gateway',
  CLIENT_DISCOVERY_TOKEN: 'registry-token-of-client',
  PROMETHEUS_DISCOVERY_TOKEN: 'registry-token-of-prometheus',
};

test('docker-compose config accepts docker-compose.yml with its secrets set, and refuses to run without them', { skip: hasCompose ? false : 'docker-compose is not installed: apt-get install -y docker-compose' }, () => {
  const config = (env: Record<string, string>) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in COMPOSE_SECRETS)));
    return spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8', env: { ...clean, ...env } });
  };
  const result = config(COMPOSE_SECRETS);
  assert.equal(result.status, 0, result.stderr);
  for (const missing of Object.keys(COMPOSE_SECRETS)) {
    const without = config(Object.fromEntries(Object.entries(COMPOSE_SECRETS).filter(([name]) => name !== missing)));
    assert.notEqual(without.status, 0, `compose refuses to start without ${missing}`);
    assert.match(without.stderr, new RegExp(`set ${missing}`));
  }

  // Registry ACLs: every instance sends its own service's token, and discovery grants exactly that
  // token that service (a token in the wrong place would register nothing, or the wrong service).
  const resolved = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...COMPOSE_SECRETS } });
  type Env = Record<string, string | undefined>;
  const services = (parse(resolved.stdout) as { services: Record<string, { environment?: Env }> }).services;
  const acl = services.discovery!.environment!;
  assert.equal(acl.ACL_MANAGEMENT_TOKEN, COMPOSE_SECRETS.DISCOVERY_MANAGEMENT_TOKEN);
  const granted = new Map(acl.ACL_SERVICE_TOKENS!.split(',').map((entry) => entry.trim().split('=') as [string, string]));
  const instances = Object.values(services).filter((service) => service.environment?.INSTANCE_ID && service !== services.discovery);
  assert.ok(instances.length >= 13, 'every instance of every service');
  for (const { environment } of instances) {
    const name = environment!.INSTANCE_ID!.replace(/-\d+$/, '');
    const token = COMPOSE_SECRETS[`${name.toUpperCase()}_DISCOVERY_TOKEN` as keyof typeof COMPOSE_SECRETS];
    assert.equal(environment!.DISCOVERY_TOKEN, token, `${environment!.INSTANCE_ID} sends ${name}'s token`);
    assert.equal(granted.get(name), token, `discovery grants ${name} its token`);
  }
  assert.equal(acl.ACL_READ_TOKENS, COMPOSE_SECRETS.PROMETHEUS_DISCOVERY_TOKEN);
  assert.equal(services.prometheus!.environment!.DISCOVERY_TOKEN, COMPOSE_SECRETS.PROMETHEUS_DISCOVERY_TOKEN);
});

test('compose publishes only the gateways, the client and Grafana (and the mail page, Alertmanager and Jaeger on loopback); Prometheus has no lifecycle API; Grafana no anonymous users', () => {
  type Service = { ports?: string[]; command?: string[]; environment?: Record<string, string>; volumes?: string[] };
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
  const published = Object.entries(compose.services).flatMap(([name, service]) => (service.ports ?? []).map((port) => `${name} ${port}`));
  assert.deepEqual(published.sort(), [
    'alertmanager 127.0.0.1:9093:9093',
    'client 3333:3333',
    'gateway-1 4000:4000',
    'gateway-2 4001:4001',
    'grafana 3000:3000',
    'jaeger 127.0.0.1:16686:16686',
    'mailpit 127.0.0.1:8025:8025',
  ]);
  assert.ok(!compose.services.prometheus!.command!.some((arg) => arg.includes('enable-lifecycle')), 'no --web.enable-lifecycle');
  assert.equal(compose.services.grafana!.environment!.GF_AUTH_ANONYMOUS_ENABLED, 'false');
  // Each service reaches PostgreSQL as its own role, on its own database (docker/postgres makes them).
  const urls = Object.entries(compose.services).flatMap(([name, service]) => {
    const url = service.environment?.DATABASE_URL;
    return url ? [[name, url] as const] : [];
  });
  assert.ok(urls.length >= 5);
  for (const [name, url] of urls) {
    const match = /^postgresql:\/\/(\w+):\$\{(\w+)_DB_PASSWORD:\?[^}]*\}@postgres:5432\/(\w+)$/.exec(url);
    assert.ok(match, `${name}: ${url}`);
    assert.equal(match[1], match[3], `${name} connects as the role named after its database`);
    assert.equal(match[2], match[1]!.toUpperCase(), `${name} uses that role's own password`);
  }
  assert.ok(compose.services.postgres!.volumes!.some((volume) => volume.startsWith('./docker/postgres/init-service-roles.sh:/docker-entrypoint-initdb.d/')));
});

test('the image installs every workspace and runs entries the way npm start does', () => {
  const dockerfile = read('Dockerfile');
  const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  for (const workspace of workspaces) {
    assert.match(dockerfile, new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'), `Dockerfile copies ${workspace}/package.json before npm ci`);
  }
  assert.match(dockerfile, /exec node --import tsx \$\{WORKSPACE\}\/src\/server\.ts/);
  const deployed = TOPOLOGY.services.filter((spec) => !(spec.compose && 'standIn' in spec.compose));
  for (const spec of deployed) {
    assert.equal(spec.entry, `${spec.entry.split('/')[0]}/src/server.ts`, `${spec.name} starts from <workspace>/src/server.ts, as in the image`);
  }
  const compose = read('docker-compose.yml');
  for (const spec of deployed) {
    assert.match(compose, new RegExp(`WORKSPACE: ${spec.entry.split('/')[0]}$`, 'm'), `compose builds ${spec.name}`);
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
