// The alerting rules under test: promtool's unit tests (monitoring/prometheus/tests) make every alert
// fire on synthetic series and stay silent on a near miss, and check the annotations it renders;
// every alert has a one-line runbook and both kinds of test case, so an alert added without them fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { MONITORING_DIR } from '../scripts/launcher/prometheus.ts';

const PROMETHEUS_DIR = join(MONITORING_DIR, 'prometheus');
const RULE_FILES = globSync(join(PROMETHEUS_DIR, 'rules/*.yml'));
const TEST_FILES = globSync(join(PROMETHEUS_DIR, 'tests/*.yml'));
const hasPromtool = spawnSync('promtool', ['--version']).error === undefined;
const SKIP = hasPromtool ? false : 'promtool not found (it comes with Prometheus): apt-get install -y prometheus';

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
const alerts = RULE_FILES.flatMap((file) =>
  (parse(readFileSync(file, 'utf8')) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((group) => group.rules.filter((rule) => rule.alert)),
);

interface UnitTests {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[] }[];
}
const unitTests = TEST_FILES.map((file) => ({ file, spec: parse(readFileSync(file, 'utf8')) as UnitTests }));

test('promtool runs the unit tests: every alert fires on its series and stays silent on the near misses', { skip: SKIP }, () => {
  assert.ok(TEST_FILES.length > 0, 'monitoring/prometheus/tests has unit tests');
  const run = spawnSync('promtool', ['test', 'rules', ...TEST_FILES], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const passed = (run.stdout + run.stderr).match(/SUCCESS/g)?.length ?? 0;
  assert.equal(passed, TEST_FILES.length, run.stdout + run.stderr);
});

test('every alert has a one-line runbook annotation, a summary and a description', () => {
  assert.ok(alerts.length >= 15, `the rules hold the alerts (${alerts.length})`);
  for (const rule of alerts) {
    const runbook = rule.annotations?.runbook?.trim() ?? '';
    assert.ok(runbook.length >= 40, `${rule.alert} has a runbook saying what to look at and what to do`);
    assert.ok(!runbook.includes('\n'), `${rule.alert}'s runbook is one line`);
    assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert} has a summary and a description`);
  }
});

test('every alert has at least one firing and one silent test case, and every case names an alert that exists', () => {
  const names = new Set(alerts.map((rule) => rule.alert!));
  const firing = new Set<string>();
  const silent = new Set<string>();
  for (const { file, spec } of unitTests) {
    const loaded = spec.rule_files.map((rules) => resolve(join(PROMETHEUS_DIR, 'tests'), rules));
    for (const rules of RULE_FILES) assert.ok(loaded.includes(rules), `${basename(file)} loads ${basename(rules)}, the rules it tests`);
    for (const group of spec.tests) {
      for (const check of group.alert_rule_test ?? []) {
        assert.ok(names.has(check.alertname), `${basename(file)}: “${group.name}” tests ${check.alertname}, which no rule defines`);
        (check.exp_alerts?.length ? firing : silent).add(check.alertname);
      }
    }
  }
  assert.deepEqual([...names].filter((name) => !firing.has(name)), [], 'alerts no test makes fire');
  assert.deepEqual([...names].filter((name) => !silent.has(name)), [], 'alerts no test keeps silent');
});

test('the unit tests catch a broken rule: an alert whose threshold can never be reached fails them', { skip: SKIP }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-promtool-tests-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(PROMETHEUS_DIR, dir, { recursive: true });
  const rules = join(dir, 'rules/notify.yml');
  const text = readFileSync(rules, 'utf8');
  const broken = text.replace('db_pool_acquire_timeouts_total[5m])) > 0', 'db_pool_acquire_timeouts_total[5m])) > 1000');
  assert.notEqual(broken, text, 'the rule to break is where this test expects it');
  writeFileSync(rules, broken);
  const run = spawnSync('promtool', ['test', 'rules', ...globSync(join(dir, 'tests/*.yml'))], { encoding: 'utf8' });
  assert.notEqual(run.status, 0, 'promtool fails the tests of a rule that cannot fire');
  assert.match(run.stdout + run.stderr, /DatabasePoolAcquireTimeouts/);
});
