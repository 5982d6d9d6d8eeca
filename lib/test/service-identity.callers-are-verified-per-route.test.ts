// Service identity: credentials that name the calling service (and the user it acts for), signed
// with the deployment's secret, checked per route before the body is read; operator endpoints.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import { hasErrorCode } from '../src/errors.ts';
import { ServiceIdentity, SERVICE_TOKEN_TTL_MS } from '../src/identity/service-identity.ts';
import { actingUser } from '../src/identity/caller-policy.ts';
import { serviceHeaders, TEST_SERVICE_SECRET } from '../src/testing/service-identity.ts';
import { startService, testConfig } from './helper.ts';

const OTHER_SECRET = 'another-deployment-secret-0123456789abcdef';

function refusal(fn: () => unknown): { code: string; reason: unknown } {
  try {
    fn();
  } catch (error) {
    assert.ok(hasErrorCode(error), `an AppError, not ${String(error)}`);
    return { code: error.code, reason: (error as { details?: { reason?: unknown } }).details?.reason };
  }
  assert.fail('accepted');
}

test('a credential proves its issuer and user to its audience only, within its life', () => {
  let now = Date.parse('2026-12-03T12:00:00Z');
  const gateway = new ServiceIdentity('gateway', TEST_SERVICE_SECRET, () => now);
  const persist = new ServiceIdentity('persist', TEST_SERVICE_SECRET, () => now);
  const counter = new ServiceIdentity('counter', TEST_SERVICE_SECRET, () => now);
  const token = gateway.token('persist', 'user-1');
  assert.deepEqual(persist.verify(token), { service: 'gateway', user: 'user-1' });
  assert.deepEqual(persist.verify(gateway.token('persist')), { service: 'gateway' });
  assert.equal(gateway.token('persist', 'user-1'), token, 'reused while young');

  assert.deepEqual(refusal(() => counter.verify(token)), { code: 'UNAUTHENTICATED', reason: 'wrong_audience' });
  assert.deepEqual(refusal(() => new ServiceIdentity('persist', OTHER_SECRET, () => now).verify(token)), { code: 'UNAUTHENTICATED', reason: 'bad_signature' });
  assert.deepEqual(refusal(() => persist.verify(undefined)), { code: 'UNAUTHENTICATED', reason: 'missing' });
  assert.deepEqual(refusal(() => persist.verify([token, token])), { code: 'UNAUTHENTICATED', reason: 'missing' });

  // Another user or issuer written into a real credential breaks its signature.
  const [payload, signature] = token.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  for (const forged of [{ ...claims, sub: 'user-2' }, { ...claims, iss: 'mailer' }, { ...claims, exp: now + 86_400_000 }]) {
    const forgedToken = `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
    assert.deepEqual(refusal(() => persist.verify(forgedToken)), { code: 'UNAUTHENTICATED', reason: 'bad_signature' });
  }

  now += SERVICE_TOKEN_TTL_MS / 2 + 1;
  assert.notEqual(gateway.token('persist', 'user-1'), token, 'renewed past half its life');
  now += SERVICE_TOKEN_TTL_MS + 61_000;
  assert.deepEqual(refusal(() => persist.verify(token)), { code: 'UNAUTHENTICATED', reason: 'expired' });
  assert.throws(() => new ServiceIdentity('gateway', 'short'), /at least 32 characters/);
});

test('any string as a credential is refused as 401, never thrown as something else', () => {
  const persist = new ServiceIdentity('persist', TEST_SERVICE_SECRET);
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => `${Buffer.from(s).toString('base64url')}.${s}`)), (input) => {
      assert.equal(refusal(() => persist.verify(input)).code, 'UNAUTHENTICATED');
    }),
    { numRuns: 500 },
  );
  assert.equal(refusal(() => persist.verify(`${'a'.repeat(5_000)}.b`)).reason, 'malformed');
});

test('each route answers only the callers it names: 401 without a credential, 403 from another service, nothing run', async (t) => {
  let ran = 0;
  const { url } = await startService(t, {
    name: 'persist',
    defaultCallers: undefined,
    configure(service) {
      service.app.post('/api/things', { config: { callers: ['gateway'] } }, async (req) => {
        ran += 1;
        return { caller: req.caller, user: actingUser(req) };
      });
      service.app.get('/api/undeclared', async () => {
        ran += 1;
        return {};
      });
    },
  });
  const post = (headers: Record<string, string>) =>
    request(`${url}/api/things`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"x":1}' });

  const none = await post({});
  assert.equal(none.statusCode, 401);
  assert.equal(((await none.body.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
  const forged = await post({ 'x-service-token': new ServiceIdentity('gateway', OTHER_SECRET).token('persist', 'u') });
  assert.equal(forged.statusCode, 401);
  await forged.body.dump();
  const bareHeader = await post({ 'x-user-id': 'u' });
  assert.equal(bareHeader.statusCode, 401, 'a bare user header proves nothing');
  await bareHeader.body.dump();
  const mailer = await post(serviceHeaders('mailer', 'persist', 'u'));
  assert.equal(mailer.statusCode, 403);
  assert.match(((await mailer.body.json()) as { error: { message: string } }).error.message, /mailer may not call \/api\/things; it accepts gateway/);
  const noUser = await post(serviceHeaders('gateway', 'persist'));
  assert.equal(noUser.statusCode, 401, 'a call that must act for a user names one');
  await noUser.body.dump();
  assert.equal(ran, 1, 'only the call without a user reached the handler, which refused it');

  const good = await post(serviceHeaders('gateway', 'persist', 'user-7'));
  assert.equal(good.statusCode, 200);
  assert.deepEqual(await good.body.json(), { caller: { service: 'gateway', user: 'user-7' }, user: 'user-7' });

  const undeclared = await request(`${url}/api/undeclared`, { headers: serviceHeaders('gateway', 'persist') });
  assert.equal(undeclared.statusCode, 403, 'a route that names no callers accepts nobody');
  await undeclared.body.dump();
  assert.equal(ran, 2);

  const health = await request(`${url}/health`);
  assert.equal(health.statusCode, 200, '/health stays open');
  await health.body.dump();
  const missing = await request(`${url}/api/nothing-here`);
  assert.equal(missing.statusCode, 404, 'no route: 404, whoever asks');
  await missing.body.dump();
});

test('/metrics, /status and /dashboard: the operator token when one is configured, else this machine only', async (t) => {
  const open = await startService(t);
  for (const path of ['/metrics', '/status', '/dashboard']) {
    const answer = await request(`${open.url}${path}`);
    assert.equal(answer.statusCode, 200, `${path} from loopback with no OPERATOR_TOKEN`);
    await answer.body.dump();
  }

  const token = 'operator-token-for-this-test';
  const locked = await startService(t, { config: testConfig({ OPERATOR_TOKEN: token }) });
  for (const path of ['/metrics', '/status', '/dashboard']) {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token]) {
      const answer = await request(`${locked.url}${path}`, { headers: authorization ? { authorization } : {} });
      assert.equal(answer.statusCode, 401, `${path} with ${authorization}`);
      await answer.body.dump();
    }
    const answer = await request(`${locked.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(answer.statusCode, 200, path);
    await answer.body.dump();
  }
});

test('with no OPERATOR_TOKEN, /metrics refuses a peer that is not this machine', async (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal);
  if (!external) return t.skip('this machine has no non-loopback IPv4 address to call from');
  const { service } = await startService(t, { config: testConfig({ HOST: '0.0.0.0' }) });
  const port = (service.app.server.address() as { port: number }).port;
  const answer = await request(`http://${external.address}:${port}/metrics`);
  assert.equal(answer.statusCode, 403);
  assert.match(((await answer.body.json()) as { error: { message: string } }).error.message, /only this machine while no OPERATOR_TOKEN/);
  const health = await request(`http://${external.address}:${port}/health`);
  assert.equal(health.statusCode, 200);
  await health.body.dump();
});
