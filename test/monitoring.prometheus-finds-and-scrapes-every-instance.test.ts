// Monitoring against the running system: promtool accepts the configuration and rules; a real
// Prometheus finds every instance through discovery and scrapes each as up; every metric a rule, a
// Grafana panel or a board variable names is exported by some service (or, for the PostgreSQL board,
// is one of postgres_exporter's, listed below); every dashboard is Grafana JSON whose datasource is
// provisioned; the gateway's latency panels link to its traces. Debian's Prometheus (CI installs it)
// has no Consul discovery, so it reads discovery's Prometheus HTTP discovery route, which carries
// the same labels.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { freePort } from '../lib/src/dev/postgres-process.ts';
import { TEST_DISCOVERY_TOKEN } from '../lib/src/testing/service-identity.ts';
import { jsonRpcClient, register, socketIoClient, startSystem } from '../gateway/test/helper.ts';
import { POSTGRES_EXPORTER_METRICS } from './monitoring-postgres-exporter-metrics.ts';
import { localPrometheusConfig, MONITORING_DIR, PROMETHEUS_CONFIG, prometheusInstalled, promtoolHasConsulSd } from '../scripts/launcher/prometheus.ts';

const INSTALL = 'apt-get install -y prometheus';
const hasPrometheus = prometheusInstalled();
const RULE_FILES = globSync(join(MONITORING_DIR, 'prometheus/rules/*.yml'));
const DASHBOARDS = globSync(join(MONITORING_DIR, 'grafana/dashboards/*.json'));
const DATASOURCES = globSync(join(MONITORING_DIR, 'grafana/provisioning/datasources/*.yml')).flatMap(
  (file) => (parse(readFileSync(file, 'utf8')) as { datasources: { uid: string; type: string }[] }).datasources,
);

/** Every board in the repository, with its uid, as the provisioning loads them. */
const EXPECTED_BOARDS = ['auth', 'avatar', 'counter', 'discovery', 'gateway', 'mailer', 'overview', 'persist', 'postgres'];

interface RuleGroup {
  rules: { record?: string; alert?: string; expr: string }[];
}
const rules = RULE_FILES.flatMap((file) => (parse(readFileSync(file, 'utf8')) as { groups: RuleGroup[] }).groups.flatMap((group) => group.rules));

interface Panel {
  title?: string;
  type?: string;
  datasource?: { type?: string; uid?: string } | string | null;
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  fieldConfig?: { defaults?: { unit?: string; links?: { title?: string; url?: string }[] } };
  panels?: Panel[];
}
interface Board {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: { name: string; query?: string | { query?: string } }[] };
}
const boardOf = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Board;
const boardNamed = (name: string) => boardOf(join(MONITORING_DIR, 'grafana/dashboards', `${name}.json`));

/** The metric a board variable's `label_values(metric{…}, label)` reads, if any. */
const variableMetric = (query: string | { query?: string } | undefined): string[] => {
  const text = typeof query === 'string' ? query : (query?.query ?? '');
  const match = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(text);
  return match ? [match[1]!] : [];
};
const panelsOf = (panels: Panel[] = []): Panel[] => panels.flatMap((panel) => [panel, ...panelsOf(panel.panels)]);

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/** The metric names a PromQL expression reads (functions, labels, keywords and literals left out). */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = match[1]!;
    if (!PROMQL_WORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

test('promtool accepts the rules, and the configuration Prometheus here can run', { skip: hasPrometheus ? false : `Prometheus not found: ${INSTALL}` }, async (t) => {
  const checkRules = spawnSync('promtool', ['check', 'rules', ...RULE_FILES], { encoding: 'utf8' });
  assert.equal(checkRules.status, 0, checkRules.stdout + checkRules.stderr);
  assert.match(checkRules.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));

  const dir = mkdtempSync(join(tmpdir(), 'notify-promtool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const consulSd = promtoolHasConsulSd() === true;
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, localPrometheusConfig({ discoveryUrl: 'http://discovery:8000', consulSd }));
  const local = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  assert.equal(local.status, 0, local.stdout + local.stderr);
  // With OPERATOR_TOKEN set, every scrape carries it as a bearer credential read from a file.
  const tokenFile = join(dir, 'operator-token');
  writeFileSync(tokenFile, 'operator-token');
  writeFileSync(file, localPrometheusConfig({ discoveryUrl: 'http://discovery:8000', consulSd, operatorTokenFile: tokenFile }));
  assert.match(readFileSync(file, 'utf8'), new RegExp(`credentials_file: ${tokenFile}`));
  const withToken = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  assert.equal(withToken.status, 0, withToken.stdout + withToken.stderr);

  await t.test('the committed configuration, with Consul discovery', { skip: consulSd ? false : 'this promtool has no Consul discovery (Debian builds it without); the same file with HTTP discovery passed above' }, () => {
    // The token file exists only in the container: point the check at one that exists here.
    const copy = join(dir, 'committed.yml');
    writeFileSync(copy, readFileSync(PROMETHEUS_CONFIG, 'utf8').replace('/prometheus/operator-token', tokenFile).replace('/prometheus/discovery-token', tokenFile).replaceAll('rules/', join(MONITORING_DIR, 'prometheus', 'rules/')));
    const committed = spawnSync('promtool', ['check', 'config', copy], { encoding: 'utf8' });
    assert.equal(committed.status, 0, committed.stdout + committed.stderr);
  });
});

test('dashboards are Grafana JSON on the provisioned datasource, and every rule and panel reads metrics the services export', async (t) => {
  const uids = new Set(DATASOURCES.map((source) => source.uid));
  assert.deepEqual(DASHBOARDS.map((file) => file.split('/').pop()!.replace(/\.json$/, '')).sort(), EXPECTED_BOARDS, 'every board, each checked below');
  const used = new Map<string, string>();
  const boardUids = new Set<string>();
  for (const file of DASHBOARDS) {
    const board = boardOf(file);
    assert.ok(board.uid && board.title, `${file} has a uid and a title`);
    assert.ok(!boardUids.has(board.uid), `${file}'s uid ${board.uid} is its own`);
    boardUids.add(board.uid);
    for (const variable of board.templating?.list ?? []) for (const name of variableMetric(variable.query)) used.set(name, `${file.split('/').pop()}: variable ${variable.name}`);
    const panels = panelsOf(board.panels).filter((panel) => panel.targets?.length);
    assert.ok(panels.length > 0, `${file} has panels with queries`);
    for (const panel of panels) {
      const uid = typeof panel.datasource === 'object' && panel.datasource ? panel.datasource.uid : undefined;
      assert.ok(uid && uids.has(uid), `${file}: panel “${panel.title}” uses a provisioned datasource (got ${JSON.stringify(panel.datasource)})`);
      for (const target of panel.targets ?? []) {
        assert.ok(target.expr, `${file}: panel “${panel.title}” has a query`);
        if (target.datasource?.uid) assert.ok(uids.has(target.datasource.uid), `${file}: a target of “${panel.title}” uses a provisioned datasource`);
        for (const name of metricNamesIn(target.expr)) used.set(name, `${file.split('/').pop()}: ${panel.title}`);
      }
    }
  }
  for (const rule of rules) for (const name of metricNamesIn(rule.expr)) used.set(name, `rule ${rule.record ?? rule.alert}`);

  // The system with traffic on every path, so labelled series exist too.
  const system = await startSystem(t, { mailer: true, avatar: true });
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  const bob = await jsonRpcClient(gateway!, undefined, t);
  const a = await register(alice, 'alice');
  await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `metrics-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  const published = await alice.call('notifications.publish', { topicId: topic.id, title: 'hello', body: 'metrics', email: true });
  await bob.call('notifications.ack', { notificationId: published.notification.id });
  await fetch(`${gateway!.url}/avatars/${a.id}.png`);
  await system.mail!.sink.until((mail) => mail.some((m) => m.subject.includes('hello')));

  const exported = new Set<string>(['up']);
  const instances = ((await (await fetch(`${system.discovery.url}/prometheus/targets`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as { targets: string[] }[]).map((group) => group.targets[0]!);
  for (const address of instances) {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) exported.add(`${name}${suffix}`);
    }
  }
  const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
  const missing = [...used].filter(([name]) => !exported.has(name) && !recorded.has(name) && !POSTGRES_EXPORTER_METRICS.has(name));
  assert.deepEqual(missing, [], 'metrics named by rules, panels and variables that no service exports (nor postgres_exporter, as listed above)');
  assert.deepEqual([...POSTGRES_EXPORTER_METRICS].filter((name) => !used.has(name)), [], "postgres_exporter's metrics listed above that no board or rule reads");
  assert.deepEqual([...POSTGRES_EXPORTER_METRICS].filter((name) => exported.has(name)), [], 'no service exports a name of the exporter list');
  const fromExporter = [...used.keys()].filter((name) => POSTGRES_EXPORTER_METRICS.has(name)).length;
  t.diagnostic(`${used.size} metric names in rules, panels and variables: ${used.size - fromExporter} exported by the ${instances.length} instances, ${fromExporter} postgres_exporter's`);
});

test("the gateway's latency panels link to its traces in Jaeger over the panel's time range, and the overview shows its WebSocket traffic", () => {
  const jaeger = DATASOURCES.find((source) => source.type === 'jaeger');
  assert.ok(jaeger, 'a Jaeger datasource is provisioned');
  const latency = panelsOf(boardNamed('gateway').panels).filter((panel) => panel.fieldConfig?.defaults?.unit === 's' && /p\d\d|latency/i.test(panel.title ?? ''));
  assert.ok(latency.length >= 3, 'the gateway board has latency panels');
  for (const panel of latency) {
    const link = panel.fieldConfig?.defaults?.links?.find((candidate) => candidate.url?.startsWith('/explore'));
    assert.ok(link?.url, `“${panel.title}” has a data link to Explore`);
    const panes = JSON.parse(decodeURIComponent(new URL(link.url, 'http://grafana').searchParams.get('panes')!)) as Record<string, { datasource: string; queries: { queryType: string; service: string }[]; range: { from: string; to: string } }>;
    const pane = Object.values(panes)[0]!;
    assert.equal(pane.datasource, jaeger.uid, `“${panel.title}” opens the Jaeger datasource`);
    assert.deepEqual([pane.queries[0]!.queryType, pane.queries[0]!.service], ['search', 'gateway'], `“${panel.title}” searches the gateway's traces`);
    assert.deepEqual(pane.range, { from: '${__from}', to: '${__to}' }, `“${panel.title}” over the panel's time range`);
  }
  const overview = panelsOf(boardNamed('overview').panels).flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNamesIn(target.expr ?? '')));
  for (const name of ['gateway_connections', 'gateway_rpc_requests_total', 'gateway_rpc_duration_seconds_bucket', 'gateway_pushes_total', 'gateway_push_fanout_seconds_bucket']) {
    assert.ok(overview.includes(name), `the overview board reads ${name}`);
  }
});

test('a real Prometheus finds every instance through discovery and scrapes them all as up', { skip: hasPrometheus ? false : `Prometheus not found: ${INSTALL}` }, async (t) => {
  const system = await startSystem(t, { mailer: true, avatar: true });
  const dir = mkdtempSync(join(tmpdir(), 'notify-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'prometheus.yml');
  // The registry denies reads without a token: Prometheus reads it with one, as under npm start.
  const discoveryTokenFile = join(dir, 'discovery-token');
  writeFileSync(discoveryTokenFile, TEST_DISCOVERY_TOKEN);
  writeFileSync(config, localPrometheusConfig({ discoveryUrl: system.discovery.url, consulSd: promtoolHasConsulSd() === true, scrapeInterval: '1s', discoveryTokenFile }));
  const port = await freePort();
  const prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  prometheus.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  t.after(() => prometheus.kill('SIGKILL'));
  const api = `http://127.0.0.1:${port}/api/v1`;

  const registered = ((await (await fetch(`${system.discovery.url}/prometheus/targets`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } })).json()) as { labels: Record<string, string> }[]).map(
    (group) => `${group.labels.__meta_consul_service}/${group.labels.__meta_consul_service_id}`,
  );
  assert.ok(registered.length >= 8, `the system registered its instances (${registered.join(', ')})`);
  type Target = { labels: Record<string, string>; health: string; lastError: string };
  let targets: Target[] = [];
  let lastError = 'none';
  const started = performance.now();
  for (;;) {
    targets = await fetch(`${api}/targets?state=active`)
      .then(async (response) => ((await response.json()) as { data: { activeTargets: Target[] } }).data.activeTargets)
      .catch((error: unknown) => {
        lastError = String((error as { cause?: unknown }).cause ?? error);
        return [];
      });
    if (targets.length === registered.length && targets.every((target) => target.health === 'up')) break;
    const seconds = (performance.now() - started) / 1_000;
    assert.ok(
      seconds < 60,
      `Prometheus did not find and scrape every instance in ${seconds.toFixed(1)} s: ${JSON.stringify(targets.map((x) => [x.labels.instance, x.health, x.lastError]))}; last API error: ${lastError}\n${log.slice(-2_000)}`,
    );
    await sleep(250);
  }
  assert.deepEqual(targets.map((target) => `${target.labels.service}/${target.labels.instance}`).sort(), [...registered].sort());
  t.diagnostic(`Prometheus scrapes ${targets.length} instances as up: ${[...new Set(targets.map((x) => x.labels.service))].join(', ')}`);

  // Through its query API: `up` per service, and the rules loaded and evaluated.
  const query = async (promql: string) => ((await (await fetch(`${api}/query?query=${encodeURIComponent(promql)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  const up = await query('sum by (service) (up)');
  assert.deepEqual(Object.fromEntries(up.map((row) => [row.metric.service, Number(row.value[1])])), Object.fromEntries([...Map.groupBy(registered, (id) => id.split('/')[0]!)].map(([service, ids]) => [service, ids.length])));
  const loaded = ((await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { health: string; name: string }[] }[] } }).data.groups.flatMap((group) => group.rules);
  assert.equal(loaded.length, rules.length);
  await sleep(2_500);
  const evaluated = ((await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { health: string; name: string }[] }[] } }).data.groups.flatMap((group) => group.rules);
  assert.deepEqual(evaluated.filter((rule) => rule.health !== 'ok').map((rule) => rule.name), []);
});
