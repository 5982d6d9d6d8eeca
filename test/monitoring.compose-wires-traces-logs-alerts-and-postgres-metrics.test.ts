// docker-compose.yml's monitoring, wired end to end on paper (no Docker engine here): every service
// sends its traces to Jaeger, Prometheus sends alerts to Alertmanager and scrapes postgres_exporter,
// Grafana's datasources name the compose services they read, Loki and Alloy run only under the
// `logs` profile, a log line's trace_id links to Jaeger, and every image is pinned.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { localPrometheusConfig, MONITORING_DIR, PROMETHEUS_CONFIG } from '../scripts/launcher/prometheus.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
type Service = {
  image?: string;
  build?: unknown;
  profiles?: string[];
  depends_on?: Record<string, unknown> | string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
  volumes?: string[];
  ports?: string[];
};
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const secrets = Object.fromEntries([...new Set([...composeText.matchAll(/\$\{(\w+):\?/g)].map((match) => match[1]!))].map((name) => [name, `value-of-${name.toLowerCase()}`]));

test('every service instance sends its traces to Jaeger over OTLP/HTTP, and names itself', () => {
  const built = Object.entries(services).filter(([, service]) => service.build);
  assert.ok(built.length >= 15, 'every instance');
  for (const [name, service] of built) {
    assert.equal(service.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', `${name} sends traces to jaeger:4318`);
    assert.equal(service.environment?.OTEL_SERVICE_NAME, undefined, `${name} leaves service.name to its code`);
  }
  assert.equal(services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED, 'true', 'Jaeger receives OTLP');
  // A notification's trace links to Jaeger's page for it, where Jaeger is published.
  const published = services.jaeger!.ports!.find((port) => port.endsWith(':16686'))!;
  for (const name of ['gateway-1', 'gateway-2']) {
    assert.equal(services[name]?.environment?.TRACE_VIEW_URL, `http://${published.split(':')[0]}:16686/trace/{traceId}`, `${name} links a trace to Jaeger`);
  }
});

test('every image is pinned to a version', () => {
  for (const [name, service] of Object.entries(services)) {
    if (service.build) continue;
    // A version number, or a dated release (MinIO names its versions RELEASE.2025-04-22T22-12-26Z).
    assert.match(service.image ?? '', /^[\w./-]+:(v?\d+[\w.-]*|RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z)$/, `${name}'s image names a version: ${service.image}`);
  }
});

test('Prometheus sends alerts to compose Alertmanager and scrapes compose postgres_exporter; the copy npm start runs leaves both out', () => {
  const config = parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as {
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: { job_name: string; static_configs?: { targets: string[]; labels?: Record<string, string> }[] }[];
  };
  const alertmanagers = config.alerting.alertmanagers.flatMap((manager) => manager.static_configs.flatMap((group) => group.targets));
  assert.deepEqual(alertmanagers, ['alertmanager:9093']);
  assert.ok(services.alertmanager, 'compose runs alertmanager');
  const postgres = config.scrape_configs.find((scrape) => scrape.job_name === 'postgres');
  assert.deepEqual(postgres?.static_configs?.[0]?.targets, ['postgres-exporter:9187']);
  assert.ok(services['postgres-exporter'], 'compose runs postgres-exporter');
  assert.match(services['postgres-exporter']!.environment!.DATA_SOURCE_URI!, /^postgres:5432\//, 'the exporter reads compose PostgreSQL');

  const local = parse(localPrometheusConfig({ discoveryUrl: 'http://127.0.0.1:8000', consulSd: false })) as { alerting?: unknown; scrape_configs: { job_name: string }[] };
  assert.equal(local.alerting, undefined);
  assert.deepEqual(local.scrape_configs.map((scrape) => scrape.job_name), ['notify']);
});

test("postgres_exporter connects as its own read-only role, whose password PostgreSQL's init script is given", () => {
  const exporter = services['postgres-exporter']!.environment!;
  assert.equal(exporter.DATA_SOURCE_USER, 'postgres_exporter');
  assert.match(exporter.DATA_SOURCE_PASS!, /^\$\{POSTGRES_EXPORTER_PASSWORD:\?/);
  assert.match(services.postgres!.environment!.POSTGRES_EXPORTER_PASSWORD!, /^\$\{POSTGRES_EXPORTER_PASSWORD:\?/);
  assert.ok(services.postgres!.volumes!.includes('./docker/postgres/init-exporter-role.sh:/docker-entrypoint-initdb.d/20-exporter-role.sh:ro'));
  assert.doesNotMatch(JSON.stringify(exporter), /POSTGRES_PASSWORD\b/, 'never the superuser password');
});

test("Alertmanager sends to the webhook file its entrypoint writes from ALERT_WEBHOOK_URL, which has a default", () => {
  const config = parse(read('monitoring/alertmanager/alertmanager.yml')) as { route: { receiver: string }; receivers: { name: string; webhook_configs?: { url_file?: string }[] }[] };
  const receiver = config.receivers.find((candidate) => candidate.name === config.route.receiver);
  const file = receiver?.webhook_configs?.[0]?.url_file;
  assert.ok(file, 'the route ends at a webhook read from a file');
  const alertmanager = services.alertmanager!;
  assert.ok(alertmanager.entrypoint!.join(' ').includes(`> ${file}`), 'the entrypoint writes that file');
  assert.match(alertmanager.environment!.ALERT_WEBHOOK_URL!, /^\$\{ALERT_WEBHOOK_URL:-http/, 'optional, with a default');
  assert.ok(alertmanager.volumes!.includes('./monitoring/alertmanager:/etc/alertmanager:ro'));
});

const hasAmtool = spawnSync('amtool', ['--version']).error === undefined;

test("amtool accepts Alertmanager's configuration", { skip: hasAmtool ? false : 'amtool not found: apt-get install -y prometheus-alertmanager' }, (t) => {
  // Debian's amtool (0.25) predates the webhook's url_file (compose runs 0.28): the rest is checked
  // with the same receiver given its URL inline.
  const dir = mkdtempSync(join(tmpdir(), 'notify-alertmanager-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, 'alertmanager.yml');
  const text = read('monitoring/alertmanager/alertmanager.yml');
  writeFileSync(copy, text.replace(/url_file: \S+/, 'url: http://127.0.0.1:5001/'));
  const check = spawnSync('amtool', ['check-config', copy], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /1 receivers/);
});

test('Loki and Alloy run only under the `logs` profile, and nothing without it waits for them', () => {
  for (const name of ['loki', 'alloy']) assert.deepEqual(services[name]?.profiles, ['logs'], `${name} is in the logs profile`);
  for (const [name, service] of Object.entries(services)) {
    if (service.profiles?.includes('logs')) continue;
    const needs = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
    assert.ok(!needs.includes('loki') && !needs.includes('alloy'), `${name} starts without the logs profile`);
  }
  assert.ok(services.alloy!.volumes!.includes('/var/run/docker.sock:/var/run/docker.sock:ro'), 'Alloy reads the containers through the Docker socket');
  const alloy = read('monitoring/alloy/config.alloy');
  assert.match(alloy, /loki\.source\.docker/);
  assert.match(alloy, /url = "http:\/\/loki:3100\/loki\/api\/v1\/push"/);
});

test("Grafana's datasources name the compose services they read, and a log line's trace_id links to the Jaeger datasource", () => {
  const datasources = globSync(join(MONITORING_DIR, 'grafana/provisioning/datasources/*.yml')).flatMap(
    (file) => (parse(readFileSync(file, 'utf8')) as { datasources: { uid: string; type: string; url: string; jsonData?: Record<string, unknown> }[] }).datasources,
  );
  const byType = new Map(datasources.map((source) => [source.type, source]));
  for (const [type, service] of [['prometheus', 'prometheus'], ['jaeger', 'jaeger'], ['loki', 'loki']] as const) {
    const source = byType.get(type);
    assert.ok(source, `a ${type} datasource`);
    assert.ok(services[service], `compose runs ${service}`);
    assert.equal(new URL(source.url).hostname, service, `the ${type} datasource reads compose's ${service}`);
  }
  const derived = (byType.get('loki')!.jsonData!.derivedFields as { matcherRegex: string; datasourceUid: string; url: string }[])[0]!;
  assert.equal(derived.datasourceUid, byType.get('jaeger')!.uid);
  assert.equal(derived.url, '$${__value.raw}', 'the whole match, $ escaped from provisioning expansion');
  const line = JSON.stringify({ level: 30, time: 1, service: 'gateway', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7', msg: 'rpc' });
  assert.equal(new RegExp(derived.matcherRegex).exec(line)?.[1], '4bf92f3577b34da6a3ce929d0e0e4736', 'the regex finds trace_id in a JSON log line');
});

test('docker-compose config accepts the file with and without the logs profile, and keeps Loki and Alloy in it', { skip: hasCompose ? false : 'docker-compose is not installed: apt-get install -y docker-compose' }, () => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in secrets) && name !== 'COMPOSE_PROFILES'));
  const config = (...args: string[]) => spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args, 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...clean, ...secrets } });
  const plain = config();
  assert.equal(plain.status, 0, plain.stderr);
  const withLogs = config('--profile', 'logs');
  assert.equal(withLogs.status, 0, withLogs.stderr);
  // As compose resolves it: only Loki and Alloy (logs) and MinIO (s3) carry a profile, so everything else starts without one.
  const resolved = (parse(plain.stdout) as { services: Record<string, Service> }).services;
  const profiled = Object.entries(resolved).filter(([, service]) => service.profiles?.length).map(([name, service]) => `${name}: ${service.profiles!.join(',')}`);
  assert.deepEqual(profiled.sort(), ['alloy: logs', 'loki: logs', 'minio-init: s3', 'minio: s3']);
  for (const name of ['jaeger', 'alertmanager', 'postgres-exporter', 'prometheus', 'grafana']) assert.ok(resolved[name], `${name} runs by default`);
  assert.equal(resolved['gateway-1']?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318');
});
