// Registration bodies are read the way a Consul agent reads them: defaults, key folding, and its 400 messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCheckUpdateJson, parseServiceDefinition, parseServiceDefinitionJson } from '../src/registry/service-definition.ts';

function ok(value: unknown) {
  const result = parseServiceDefinition(value);
  if (!result.ok) assert.fail(`expected a valid registration, got: ${result.message}`);
  return result.value;
}

function rejected(body: unknown): string {
  const result = typeof body === 'string' ? parseServiceDefinitionJson(body) : parseServiceDefinition(body);
  assert.equal(result.ok, false, `expected ${JSON.stringify(body)?.slice(0, 80)} to be rejected`);
  return (result as { message: string }).message;
}

test('applies Consul defaults: ID from Name, service:<id> check ids, critical start, default check name', () => {
  const def = ok({ Name: 'api', Port: 80, Check: { TTL: '10s' } });
  assert.equal(def.id, 'api');
  assert.equal(def.address, '');
  assert.deepEqual(def.tags, []);
  assert.deepEqual(def.weights, { passing: 1, warning: 1 });
  assert.equal(def.checks.length, 1);
  const [check] = def.checks;
  assert.equal(check!.checkId, 'service:api');
  assert.equal(check!.name, "Service 'api' check");
  assert.equal(check!.status, 'critical');
  assert.equal(check!.type, 'ttl');
  assert.equal(check!.type === 'ttl' && check!.ttlMs, 10_000);
});

test('numbers several checks service:<id>:<n> from 1, Check before Checks', () => {
  const def = ok({
    ID: 'api-1',
    Name: 'api',
    Check: { TTL: '5s' },
    Checks: [{ HTTP: 'http://127.0.0.1:1/health', Interval: '1s' }, { CheckID: 'custom', TTL: '1m', Status: 'passing' }],
  });
  assert.deepEqual(
    def.checks.map((c) => [c.checkId, c.type, c.status]),
    [
      ['service:api-1:1', 'ttl', 'critical'],
      ['service:api-1:2', 'http', 'critical'],
      ['custom', 'ttl', 'passing'],
    ],
  );
  const http = def.checks[1]!;
  assert.ok(http.type === 'http');
  assert.equal(http.timeoutMs, 10_000, 'HTTP checks time out after 10 s by default');
  assert.equal(http.method, 'GET');
});

test('matches keys case-insensitively and in snake_case, keeping Meta keys as given', () => {
  const def = ok({
    name: 'api',
    id: 'a',
    port: 1,
    meta: { Version: '2' },
    check: { ttl: '1s', deregister_critical_service_after: '90s' },
  });
  assert.equal(def.id, 'a');
  assert.deepEqual(def.meta, { Version: '2' });
  assert.equal(def.checks[0]!.deregisterCriticalAfterMs, 90_000);
});

test('skips an empty Check object, as Consul does', () => {
  assert.equal(ok({ Name: 'api', Check: {} }).checks.length, 0);
});

test('takes integer durations as nanoseconds (Go time.Duration)', () => {
  const check = ok({ Name: 'api', Check: { TTL: 2_000_000_000 } }).checks[0]!;
  assert.equal(check.type === 'ttl' && check.ttlMs, 2_000);
});

test('rejects bad registrations with Consul-style messages', () => {
  const cases: [unknown, RegExp][] = [
    ['', /^Request decode failed: EOF$/],
    ['{not json', /^Request decode failed: /],
    [[], /^Request decode failed: json: cannot unmarshal array into Go value of type structs.ServiceDefinition$/],
    ['"api"', /cannot unmarshal string/],
    [{ Port: 80 }, /^Missing service name$/],
    [{ Name: '' }, /^Missing service name$/],
    [{ Name: 42 }, /^Request decode failed: Name: /],
    [{ Name: 'api', Port: 'eighty' }, /^Request decode failed: Port: /],
    [{ Name: 'api', Port: -1 }, /^Request decode failed: Port: /],
    [{ Name: 'api', Port: 1.5 }, /^Request decode failed: Port: /],
    [{ Name: 'api', Port: 70_000 }, /^Request decode failed: Port: /],
    [{ Name: 'api', Tags: 'a,b' }, /^Request decode failed: Tags: /],
    [{ Name: 'api', Tags: ['a', 1] }, /^Request decode failed: Tags\[1\]: /],
    [{ Name: 'api', Meta: { a: 1 } }, /^Request decode failed: Meta\.a: /],
    [{ Name: 'api', Meta: { 'bad key': 'x' } }, /^Invalid Service Meta: .*Key contains invalid characters/],
    [{ Name: 'api', Address: '0.0.0.0' }, /^Invalid service address$/],
    [{ Name: 'api', Check: { TTL: 'soon' } }, /^Request decode failed: Check\.TTL: time: invalid duration "soon"$/],
    [{ Name: 'api', Check: { TTL: true } }, /^Request decode failed: Check\.TTL: /],
    [{ Name: 'api', Checks: [{ TTL: '1s' }, { TTL: '5' }] }, /^Request decode failed: Checks\[1\]\.TTL: time: missing unit/],
    [{ Name: 'api', Check: { TTL: '0s' } }, /^Invalid check: TTL must be > 0 for TTL checks$/],
    [{ Name: 'api', Check: { TTL: '-5s' } }, /^Invalid check: TTL must be > 0 for TTL checks$/],
    [{ Name: 'api', Check: { Notes: 'no kind' } }, /^Invalid check: TTL must be > 0 for TTL checks$/],
    [{ Name: 'api', Check: { TTL: '5s', HTTP: 'http://x/', Interval: '1s' } }, /^Invalid check: Interval and TTL cannot both be specified$/],
    [{ Name: 'api', Check: { TTL: '5s', HTTP: 'http://x/' } }, /^Invalid check: Interval must be > 0/],
    [{ Name: 'api', Check: { HTTP: 'http://x/' } }, /^Invalid check: Interval must be > 0/],
    [{ Name: 'api', Check: { HTTP: 'not a url', Interval: '1s' } }, /^Invalid check: HTTP must be an absolute http\(s\) URL/],
    [{ Name: 'api', Check: { TCP: 'x:1', Interval: '1s' } }, /^Invalid check: only TTL and HTTP checks/],
    [{ Name: 'api', Check: { TTL: '5s', Status: 'fine' } }, /^Status for checks must 'passing', 'warning', 'critical'$/],
    [{ Name: 'api', Checks: [{ CheckID: 'c', TTL: '1s' }, { CheckID: 'c', TTL: '1s' }] }, /duplicate CheckID "c"/],
  ];
  for (const [body, expected] of cases) assert.match(rejected(body), expected, JSON.stringify(body));
});

test('refuses check durations a Node timer cannot hold (over 2^31-1 ms), accepting the longest it can', () => {
  const longest = (2 ** 31 - 1) * 1e6; // in nanoseconds, exact
  const cases: [Record<string, unknown>, string][] = [
    [{ TTL: '720h' }, 'TTL'],
    [{ TTL: '30s', DeregisterCriticalServiceAfter: '720h' }, 'DeregisterCriticalServiceAfter'],
    [{ HTTP: 'http://x/', Interval: '720h' }, 'Interval'],
    [{ HTTP: 'http://x/', Interval: '10s', Timeout: '720h' }, 'Timeout'],
    [{ TTL: longest + 1e6 }, 'TTL'],
  ];
  for (const [check, field] of cases) {
    assert.equal(rejected({ Name: 'api', Check: check }), `Invalid check: ${field} must be <= 596h31m23.647s`, JSON.stringify(check));
  }
  const check = ok({ Name: 'api', Check: { TTL: longest, DeregisterCriticalServiceAfter: longest } }).checks[0]!;
  assert.equal(check.type === 'ttl' && check.ttlMs, 2 ** 31 - 1);
  assert.equal(check.deregisterCriticalAfterMs, 2 ** 31 - 1);
});

test('reads check updates ({Status, Output}) and rejects unknown statuses', () => {
  assert.deepEqual(parseCheckUpdateJson('{"Status":"warning","Output":"slow"}'), { ok: true, value: { status: 'warning', output: 'slow' } });
  assert.deepEqual(parseCheckUpdateJson('{"status":"passing"}'), { ok: true, value: { status: 'passing', output: '' } });
  assert.deepEqual(parseCheckUpdateJson('{"Status":"fine"}'), { ok: false, message: "Invalid check status: 'fine'" });
  assert.deepEqual(parseCheckUpdateJson(''), { ok: false, message: "Invalid check status: ''" });
  assert.match((parseCheckUpdateJson('{') as { message: string }).message, /^Request decode failed: /);
});
