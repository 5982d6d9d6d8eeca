// docker-compose.yml derived from the system's one description (TOPOLOGY, which npm start, the tests
// and the benchmarks start): each service's instances by name and port, what each is built from,
// the settings the description gives it (a key compose leaves out must be the service's default
// anyway), the secrets compose requires for them, its depends_on and restart policy. A service or
// instance added to one and not the other fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { z } from 'zod';
import { parse } from 'yaml';
import { plannedInstance, systemEnv } from '../lib/src/testing/start-system.ts';
import { composeDependsOn, composeInstances, composeNames, deploymentSecrets, TOPOLOGY, type Place, type ServiceSpec } from '../lib/src/testing/topology.ts';
import { registryTokens } from '../scripts/launcher/registry-tokens.ts';
import { configSchema as discoveryConfig } from '../discovery/src/config.ts';
import { configSchema as authConfig } from '../auth/src/config.ts';
import { configSchema as counterConfig } from '../counter/src/config.ts';
import { configSchema as persistConfig } from '../persist/src/config.ts';
import { configSchema as gatewayConfig } from '../gateway/src/config.ts';
import { configSchema as mailerConfig } from '../mailer/src/config.ts';
import { configSchema as avatarConfig } from '../avatar/src/config.ts';
import { configSchema as clientConfig } from '../client/src/config.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const text = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
type Service = {
  build?: { args?: Record<string, string> };
  image?: string;
  restart?: string;
  depends_on?: Record<string, { condition?: string }>;
  environment?: Record<string, string | number>;
  healthcheck?: { test?: string[] };
};
/** The file as written, anchors and `<<` merges resolved, `${VAR:?…}` left as text. */
const compose = parse(text, { merge: true }) as { services: Record<string, Service> };

/** Each deployed service's settings, to tell a real key from a typo and to read its defaults. */
const CONFIG: Record<string, z.ZodObject> = {
  discovery: discoveryConfig,
  auth: authConfig,
  counter: counterConfig,
  persist: persistConfig,
  gateway: gatewayConfig,
  mailer: mailerConfig,
  avatar: avatarConfig,
  client: clientConfig,
};

const deployed = TOPOLOGY.services.filter((spec) => composeInstances(spec) > 0);
const standIns = TOPOLOGY.services.filter((spec) => composeInstances(spec) === 0).flatMap(composeNames);
/** Where every service runs (so each setting that names another one is there), on its default ports. */
const everywhere: Place = {
  host: 'compose',
  port: (service, name = 'http', n = 1) => {
    const spec = TOPOLOGY.services.find((candidate) => candidate.name === service);
    if (!spec) return undefined;
    return name === 'http' ? spec.port + n - 1 : spec.extraPorts?.find((extra) => extra.name === name)?.port;
  },
  secret: () => 'a-secret',
};
/** A run with everything a deployment sets: secrets, operator token, registry tokens, databases. */
const run = {
  host: '0.0.0.0',
  advertise: 'compose',
  serviceSecret: 'a-service-secret',
  operatorToken: 'an-operator-token',
  registry: registryTokens(TOPOLOGY.services.filter((spec) => spec.name !== 'discovery').map((spec) => spec.name)),
  discoveryUrl: 'http://discovery:8000',
  databaseUrl: 'postgresql://a-database',
};
/**
 * Every variable compose must require: those of the description's secrets, PostgreSQL's, its
 * exporter's and Grafana's own, and MinIO's with the avatar service's key there (profile s3).
 */
const requiredVariables = new Set([
  ...deployed.flatMap((spec) => Object.values(deploymentSecrets(TOPOLOGY, spec)).flat()),
  'POSTGRES_PASSWORD',
  'POSTGRES_EXPORTER_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
  'MINIO_ROOT_PASSWORD',
  'AVATAR_S3_SECRET_ACCESS_KEY',
]);

/** Each deployed instance with its compose service and spec. */
const instances = deployed.flatMap((spec) => composeNames(spec).map((name, i) => ({ spec, name, instance: plannedInstance(spec, i + 1, 0) })));

test('compose runs exactly the described services: each instance (instance counts included), the stand-ins and the infrastructure', () => {
  const expected = [...instances.map(({ name }) => name), ...standIns, ...Object.keys(TOPOLOGY.infrastructure)].sort();
  assert.deepEqual(Object.keys(compose.services).sort(), expected);
  const built = Object.entries(compose.services).filter(([, service]) => service.build).map(([name]) => name);
  assert.deepEqual(built.sort(), instances.map(({ name }) => name).sort(), 'compose builds from this repository exactly the described instances');
});

for (const { spec, name, instance } of instances) {
  test(`compose's ${name} is ${instance.id} as described: built from ${spec.entry.split('/')[0]}, port ${instance.port}, its settings and secrets, depends_on, restart`, () => {
    const service = compose.services[name];
    assert.ok(service, `compose has ${name}`);
    const workspace = spec.entry.split('/')[0]!;
    assert.equal(service.build?.args?.WORKSPACE, workspace);
    assert.equal(service.image, `notify/${workspace}`);
    assert.equal(service.restart, 'unless-stopped', 'restarted when it dies, as npm start does');

    const environment = service.environment ?? {};
    assert.equal(String(environment.PORT), String(instance.port));
    assert.equal(environment.INSTANCE_ID, instance.id);
    assert.equal(environment.ADVERTISE_ADDRESS, name, 'reached by its compose name');
    assert.match(service.healthcheck?.test?.join(' ') ?? '', new RegExp(`127\\.0\\.0\\.1:${instance.port}/health`), 'its healthcheck asks its own port');

    // The settings the description gives this instance: each one compose sets too, or leaves to a
    // default that is the same value; none that the service does not read.
    const schema = CONFIG[spec.name];
    assert.ok(schema, `test/compose-matches-topology.test.ts knows ${spec.name}'s configuration schema`);
    const described = systemEnv(instance, everywhere, run);
    for (const [key, value] of Object.entries(described)) {
      const field = schema.shape[key] as z.ZodType | undefined;
      assert.ok(field, `${spec.name} reads ${key}`);
      if (key in environment) continue;
      assert.deepEqual(field.parse(undefined), field.parse(value), `${name} leaves ${key} to its default, which is what the description gives (${value})`);
    }

    for (const [key, variables] of Object.entries(deploymentSecrets(TOPOLOGY, spec))) {
      const value = String(environment[key] ?? '');
      for (const variable of variables) assert.ok(value.includes(`\${${variable}:?`), `${name}'s ${key} requires ${variable}: ${value}`);
    }
    if (spec.database) assert.match(String(environment.DATABASE_URL), new RegExp(`^postgresql://${spec.database}:.*@postgres:5432/${spec.database}$`), `${name} uses the ${spec.database} database as its role`);

    const dependsOn = service.depends_on ?? {};
    assert.deepEqual(Object.keys(dependsOn).sort(), composeDependsOn(TOPOLOGY, spec).sort());
    for (const [dependency, { condition }] of Object.entries(dependsOn)) assert.equal(condition, 'service_healthy', `${name} waits for ${dependency} to be healthy`);
  });
}

test('the registry grants each deployed service its own token, and PostgreSQL makes a role for each described database', () => {
  const acl = String(compose.services.discovery!.environment!.ACL_SERVICE_TOKENS);
  const granted = acl.split(',').map((entry) => entry.trim().split('=')[0]);
  assert.deepEqual(granted.sort(), deployed.filter((spec: ServiceSpec) => spec.name !== 'discovery').map((spec) => spec.name).sort());
  const roles = compose.services.postgres!.environment ?? {};
  for (const database of new Set(deployed.flatMap((spec) => (spec.database ? [spec.database] : [])))) {
    assert.ok(String(roles[`${database.toUpperCase()}_DB_PASSWORD`] ?? '').startsWith(`\${${database.toUpperCase()}_DB_PASSWORD:?`), `postgres makes the ${database} role`);
  }
});

test('compose requires exactly the secrets the description names (and the README lists each)', () => {
  const required = new Set([...text.matchAll(/\$\{(\w+):\?/g)].map((match) => match[1]!));
  assert.deepEqual([...required].sort(), [...requiredVariables].sort());
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  for (const variable of requiredVariables) assert.ok(readme.includes(variable), `README names ${variable}`);
});

const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

test('docker-compose config accepts the file with exactly the described secrets set', { skip: hasCompose ? false : 'docker-compose is not installed: apt-get install -y docker-compose' }, () => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !requiredVariables.has(name)));
  const secrets = Object.fromEntries([...requiredVariables].map((name) => [name, `value-of-${name.toLowerCase()}-0123456789abcdef`]));
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...clean, ...secrets } });
  assert.equal(result.status, 0, result.stderr);
  // As compose itself resolves the file: each instance's settings hold every key the description gives it, or its default.
  const resolved = (parse(result.stdout) as { services: Record<string, Service> }).services;
  for (const { spec, name, instance } of instances) {
    const environment = resolved[name]?.environment ?? {};
    for (const [key, value] of Object.entries(systemEnv(instance, everywhere, run))) {
      if (key in environment) continue;
      const field = CONFIG[spec.name]!.shape[key] as z.ZodType;
      assert.deepEqual(field.parse(undefined), field.parse(value), `${name}: ${key}`);
    }
  }
});
