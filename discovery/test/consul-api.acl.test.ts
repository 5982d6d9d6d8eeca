// Registry ACLs, as a real discovery process judges them: default deny, service-identity tokens that
// write only their own service, no take-over of another token's ids or checks, read filtering, and
// HTTP checks that may only ask the instance itself. Driven by raw HTTP and the unmodified consul client.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Consul from 'consul';
import { request } from 'undici';
import { loadConfig, ConfigError } from '@notify/lib';
import { spawnService, TEST_DISCOVERY_TOKEN } from '@notify/lib/testing';
import { configSchema } from '../src/config.ts';
import type { AgentService, ServiceEntry } from '../src/registry/consul-types.ts';
import { startDiscovery, type RunningDiscovery } from './helper.ts';

const MANAGEMENT = TEST_DISCOVERY_TOKEN;
const AUTH = 'auth-token-0123456789abcdef';
const AUTH_OTHER = 'auth-token-second-0123456789';
const MAILER = 'mailer-token-0123456789abcdef';
const ECHO = 'echo-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

describe('registry ACLs (default deny)', () => {
  let discovery: RunningDiscovery;
  let base: string;

  const call = async (method: 'GET' | 'PUT', path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const answer = await request(`${base}${path}`, {
      method,
      headers: { ...(options.token ? { 'x-consul-token': options.token } : {}), ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    return { status: answer.statusCode, text: await answer.body.text(), headers: answer.headers };
  };
  /** Every instance as the management token sees it. */
  const services = async () => JSON.parse((await call('GET', '/v1/agent/services', { token: MANAGEMENT })).text) as Record<string, AgentService>;
  const register = (token: string | undefined, body: Record<string, unknown>) => call('PUT', '/v1/agent/service/register', { token, body });

  before(async () => {
    discovery = await startDiscovery({
      ACL_SERVICE_TOKENS: `auth=${AUTH}, auth=${AUTH_OTHER}, mailer=${MAILER}, echo=${ECHO}`,
      ACL_READ_TOKENS: READER,
    });
    base = discovery.baseUrl;
  });
  after(async () => {
    if (discovery) assert.equal(await discovery.stop(), 0, `discovery did not exit cleanly:\n${discovery.output()}`);
  });

  test('a registration without a token, or with another service’s, is refused and registers nothing', async () => {
    const anonymous = await register(undefined, { ID: 'auth-rogue', Name: 'auth', Port: 5999 });
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.text, /^Permission denied: anonymous token lacks permission 'service:write' on "auth"/);
    const asMailer = await register(MAILER, { ID: 'auth-rogue', Name: 'auth', Port: 5999 });
    assert.equal(asMailer.status, 403);
    assert.match(asMailer.text, /^Permission denied: token with AccessorID '[0-9a-f-]{36}' lacks permission 'service:write' on "auth"$/);
    assert.ok(!asMailer.text.includes(MAILER), 'a denial names the accessor, never the secret');
    const asReader = await register(READER, { ID: 'auth-rogue', Name: 'auth', Port: 5999 });
    assert.equal(asReader.status, 403, 'a read token writes nothing');
    const unknown = await register('made-up-token-0123456789', { ID: 'auth-rogue', Name: 'auth', Port: 5999 });
    assert.deepEqual([unknown.status, unknown.text], [403, 'ACL not found']);
    assert.ok(!('auth-rogue' in (await services())), 'nothing registered');
  });

  test('a service token registers its own service through the unmodified consul client; ?token= and Bearer work too', async (t) => {
    const consul = new Consul({ host: '127.0.0.1', port: discovery.port, defaults: { token: AUTH } });
    t.after(() => consul.destroy());
    await consul.agent.service.register({ id: 'auth-1', name: 'auth', address: '127.0.0.1', port: 5000, check: { ttl: '60s', status: 'passing' } } as never);
    assert.equal((await services())['auth-1']?.Port, 5000);
    assert.equal((await call('PUT', `/v1/agent/check/pass/service:auth-1?token=${AUTH}`)).status, 200, '?token=');
    assert.equal((await call('PUT', '/v1/agent/check/pass/service:auth-1', { headers: { authorization: `Bearer ${AUTH}` } })).status, 200, 'Authorization: Bearer');

    const self = JSON.parse((await call('GET', '/v1/acl/token/self', { token: AUTH })).text) as { AccessorID: string; ServiceIdentities: unknown };
    assert.deepEqual(self.ServiceIdentities, [{ ServiceName: 'auth' }]);
    assert.notEqual(self.AccessorID, AUTH);
  });

  test('an id registered by one token cannot be taken over, deregistered or failed by another, even of the same service', async () => {
    await register(AUTH, { ID: 'auth-2', Name: 'auth', Address: '127.0.0.1', Port: 5001, Check: { TTL: '60s', Status: 'passing' } });
    const hijack = await register(AUTH_OTHER, { ID: 'auth-2', Name: 'auth', Address: '127.0.0.1', Port: 6666 });
    assert.equal(hijack.status, 403);
    assert.match(hijack.text, /service ID "auth-2" was registered with another token/);
    const moved = await register(MAILER, { ID: 'auth-2', Name: 'mailer', Address: '127.0.0.1', Port: 6666 });
    assert.equal(moved.status, 403, 'nor renamed into a service the token may write');
    const stolenCheck = await register(MAILER, { ID: 'mailer-1', Name: 'mailer', Port: 7000, Check: { CheckID: 'service:auth-2', TTL: '60s' } });
    assert.equal(stolenCheck.status, 403, 'nor its check taken by id');
    assert.match(stolenCheck.text, /lacks permission 'service:write' on "auth"/);
    const stolenBySibling = await register(AUTH_OTHER, { ID: 'auth-3', Name: 'auth', Port: 5003, Check: { CheckID: 'service:auth-2', TTL: '60s' } });
    assert.equal(stolenBySibling.status, 403);
    assert.match(stolenBySibling.text, /check ID "service:auth-2" was registered with another token/);
    assert.equal((await call('PUT', '/v1/agent/service/deregister/auth-2', { token: AUTH_OTHER })).status, 403);
    assert.equal((await call('PUT', '/v1/agent/service/deregister/auth-2', { token: MAILER })).status, 403);
    assert.equal((await call('PUT', '/v1/agent/check/fail/service:auth-2', { token: MAILER })).status, 403);
    assert.equal((await call('PUT', '/v1/agent/check/fail/service:auth-2')).status, 403, 'anonymous');
    assert.equal((await call('PUT', '/v1/agent/check/update/service:auth-2', { token: AUTH_OTHER, body: { Status: 'critical' } })).status, 403);

    const after = (await services())['auth-2'];
    assert.equal(after?.Port, 5001, 'still the first registration');
    const checks = JSON.parse((await call('GET', '/v1/agent/checks', { token: MANAGEMENT })).text) as Record<string, { Status: string; ServiceID: string }>;
    assert.deepEqual([checks['service:auth-2']?.Status, checks['service:auth-2']?.ServiceID], ['passing', 'auth-2']);
    assert.ok(!('mailer-1' in (await services())) && !('auth-3' in (await services())));
    // Nor taken ahead of time: a token's instance ids start with its service's name, its checks are its own.
    const squat = await register(MAILER, { ID: 'auth-9', Name: 'mailer', Port: 7009 });
    assert.equal(squat.status, 400);
    assert.match(squat.text, /Invalid service ID "auth-9": it must be the service name or start with "mailer-"/);
    const squatCheck = await register(MAILER, { ID: 'mailer-9', Name: 'mailer', Port: 7009, Check: { CheckID: 'service:auth-9', TTL: '60s' } });
    assert.equal(squatCheck.status, 400);

    // The token that registered it may change it; the management token may do anything.
    assert.equal((await register(AUTH, { ID: 'auth-2', Name: 'auth', Address: '127.0.0.1', Port: 5002 })).status, 200);
    assert.equal((await call('PUT', '/v1/agent/service/deregister/auth-2', { token: MANAGEMENT })).status, 200);
    assert.ok(!('auth-2' in (await services())));
  });

  test('reads show only what the token may read; the agent needs agent:read', async () => {
    const anonymousHealth = await call('GET', '/v1/health/service/auth');
    assert.deepEqual([anonymousHealth.status, anonymousHealth.text], [200, '[]']);
    assert.equal(anonymousHealth.headers['x-consul-results-filtered-by-acls'], 'true');
    assert.equal((await call('GET', '/v1/catalog/services')).text, '{}');
    assert.equal((await call('GET', '/v1/agent/services')).text, '{}');
    assert.equal((await call('GET', '/prometheus/targets')).text, '[]');
    assert.equal((await call('GET', '/v1/agent/self')).status, 403);

    const asReader = JSON.parse((await call('GET', '/v1/health/service/auth', { token: READER })).text) as ServiceEntry[];
    assert.deepEqual(asReader.map((entry) => entry.Service.ID), ['auth-1']);
    assert.equal((await call('GET', '/v1/agent/self', { token: READER })).status, 200);
    const targets = JSON.parse((await call('GET', '/prometheus/targets', { token: READER })).text) as { labels: Record<string, string> }[];
    assert.ok(targets.some((group) => group.labels.__meta_consul_service_id === 'auth-1'));
    // A service token reads every service (to find what it calls), as Consul's service identities do.
    const asMailer = JSON.parse((await call('GET', '/v1/health/service/auth', { token: MAILER })).text) as ServiceEntry[];
    assert.deepEqual(asMailer.map((entry) => entry.Service.ID), ['auth-1']);
  });

  test('an HTTP check may only ask the instance itself, and keeps a short first line of the answer', async (t) => {
    const secretPage = `first line of a page\n${'private data '.repeat(200)}`;
    const server = createServer((_request, response) => response.end(`${'x'.repeat(300)}\n${secretPage}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;

    const elsewhere = await register(ECHO, { ID: 'echo-1', Name: 'echo', Address: '127.0.0.1', Port: port, Check: { HTTP: `http://127.0.0.1:${discovery.port}/v1/agent/services`, Interval: '10s' } });
    assert.equal(elsewhere.status, 400);
    assert.match(elsewhere.text, /an HTTP check must target the instance's own address and port \(127\.0\.0\.1:\d+\)/);
    const otherHost = await register(ECHO, { ID: 'echo-1', Name: 'echo', Address: '127.0.0.1', Port: port, Check: { HTTP: `http://localhost:${port}/`, Interval: '10s' } });
    assert.equal(otherHost.status, 400);
    // An Address is the registrant's to choose: a check must also ask the address it registers from.
    const metadata = await register(ECHO, { ID: 'echo-1', Name: 'echo', Address: '169.254.169.254', Port: 80, Check: { HTTP: 'http://169.254.169.254/latest/meta-data/', Interval: '10s' } });
    assert.equal(metadata.status, 400);
    assert.match(metadata.text, /must target the address the registration comes from \(127\.0\.0\.1\)/);
    const posting = await register(ECHO, { ID: 'echo-1', Name: 'echo', Address: '127.0.0.1', Port: port, Check: { HTTP: `http://127.0.0.1:${port}/topics`, Method: 'POST', Body: '{}', Interval: '10s' } });
    assert.equal(posting.status, 400);
    assert.match(posting.text, /may only GET or HEAD its URL, without headers or a body/);
    assert.ok(!('echo-1' in (await services())));

    const own = await register(ECHO, { ID: 'echo-1', Name: 'echo', Address: '127.0.0.1', Port: port, Check: { HTTP: `http://127.0.0.1:${port}/health`, Interval: '10s' } });
    assert.equal(own.status, 200, own.text);
    let output = '';
    for (let tries = 0; !output && tries < 3_000; tries += 1) {
      const checks = JSON.parse((await call('GET', '/v1/agent/checks', { token: MANAGEMENT })).text) as Record<string, { Output: string }>;
      output = checks['service:echo-1']?.Output ?? '';
      if (!output) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(output, /^HTTP GET http:\/\/127\.0\.0\.1:\d+\/health: 200 OK Output: x{120}…$/);
    assert.ok(!output.includes('private data'), 'nothing past the first line');
  });

  test('a kit service registers with its own service token, and a start with another service’s token fails', async (t) => {
    const echo = await spawnService({ entry: 'test/fixtures/echo-service.ts', env: { DISCOVERY_URL: base, DISCOVERY_TOKEN: ECHO, INSTANCE_ID: 'echo-kit', DRAIN_DELAY_MS: '0' } }, t);
    assert.equal((await services())['echo-kit']?.Port, echo.port);

    await assert.rejects(
      spawnService({ entry: 'test/fixtures/echo-service.ts', env: { DISCOVERY_URL: base, DISCOVERY_TOKEN: MAILER, INSTANCE_ID: 'echo-as-mailer', DRAIN_DELAY_MS: '0' } }, t),
      /exited \(1\) before the expected log line[\s\S]*lacks permission 'service:write' on \\?"echo\\?"/,
    );
    assert.ok(!('echo-as-mailer' in (await services())));
  });
});

test('ACLs on need a management token; service tokens must be name=secret with a long secret', () => {
  const secret = { SERVICE_SECRET: 'x'.repeat(32) };
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadConfig(configSchema, { ...secret, ...env }), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
  refused({}, /ACL_MANAGEMENT_TOKEN: is required while ACL_ENABLED is true/);
  refused({ ACL_MANAGEMENT_TOKEN: MANAGEMENT, ACL_SERVICE_TOKENS: 'auth' }, /ACL_SERVICE_TOKENS: entry "auth" is not "name=secret"/);
  refused({ ACL_MANAGEMENT_TOKEN: MANAGEMENT, ACL_SERVICE_TOKENS: 'auth=short' }, /ACL_SERVICE_TOKENS: the secret for "auth" must have at least 16 characters/);
  assert.equal(loadConfig(configSchema, { ...secret, ACL_ENABLED: 'false' }).ACL_ENABLED, false);
});
