// API keys over the JSON-RPC transport against the whole system: a user creates keys (the secret
// answered once, only its hash stored), lists and revokes their own and never another's, holds at
// most API_KEYS_MAX_PER_USER live keys even when creating them all at once, and sees a key's last use.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { request } from 'undici';
import { failure, jsonRpcClient, register, startSystem, withPg } from './helper.ts';

const SECRET = /^nk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/;

async function topicsWith(port: number, key: string): Promise<number> {
  const answer = await request(`http://127.0.0.1:${port}/api/v1/topics`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(30_000) });
  await answer.body.dump();
  return answer.statusCode;
}

test('API keys are created, listed and revoked over JSON-RPC by their owner only', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  await register(alice, 'Alice');
  const bob = await jsonRpcClient(gateway!, undefined, t);
  await register(bob, 'Bob');

  await t.test('create answers the key and its secret once; only the hash is stored', async () => {
    const { key, secret } = await alice.call('apiKeys.create', { name: '  CI deploys  ' });
    assert.match(secret, SECRET);
    assert.deepEqual(Object.keys(key).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt']);
    assert.equal(key.name, 'CI deploys');
    assert.equal(key.prefix, secret.slice(0, 11));
    assert.ok(secret.includes(key.id.replaceAll('-', '')));
    assert.equal(key.lastUsedAt, null);
    assert.equal(key.revokedAt, null);
    const { keys } = await alice.call('apiKeys.list', {});
    assert.deepEqual(keys, [key]);
    assert.ok(!JSON.stringify(keys).includes(secret.slice(12)), 'the list never shows the secret');
    const rows = await withPg(system.authDatabaseUrl, async (db) => (await db.query('SELECT * FROM api_keys WHERE id = $1', [key.id])).rows);
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(secret.slice(12)), 'the secret is not stored');
    assert.equal(rows[0].secret_hash, createHash('sha256').update(secret).digest('hex'));
  });

  await t.test('bad params are INVALID_ARGUMENT (-32602); a connection without a user is UNAUTHENTICATED', async () => {
    for (const params of [{ name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 5 }, { name: 'ok', extra: 1 }, { name: 'a\u0000b' }]) {
      const error = await failure(alice.call('apiKeys.create', params as never));
      assert.equal(error.error.code, 'INVALID_ARGUMENT', JSON.stringify(params));
      assert.equal(error.rpcCode, -32602);
    }
    assert.equal((await failure(alice.call('apiKeys.revoke', { keyId: 'not-a-uuid' }))).error.code, 'INVALID_ARGUMENT');
    const anonymous = await jsonRpcClient(gateway!, undefined, t);
    for (const method of ['apiKeys.create', 'apiKeys.list', 'apiKeys.revoke'] as const) {
      const params = method === 'apiKeys.create' ? { name: 'x' } : method === 'apiKeys.revoke' ? { keyId: crypto.randomUUID() } : {};
      assert.equal((await failure(anonymous.call(method, params as never))).error.code, 'UNAUTHENTICATED', method);
    }
  });

  await t.test("a user neither lists nor revokes another's keys: NOT_FOUND, and the key keeps working", async () => {
    const { key, secret } = await alice.call('apiKeys.create', { name: 'shop' });
    assert.ok(!(await bob.call('apiKeys.list', {})).keys.some((k) => k.id === key.id));
    const error = await failure(bob.call('apiKeys.revoke', { keyId: key.id }));
    assert.equal(error.error.code, 'NOT_FOUND');
    const unknown = await failure(bob.call('apiKeys.revoke', { keyId: crypto.randomUUID() }));
    assert.equal(unknown.error.message, error.error.message, 'another’s key and no key look the same');
    assert.equal(await topicsWith(gateway!.port, secret), 200);
    assert.equal((await alice.call('apiKeys.list', {})).keys.find((k) => k.id === key.id)!.revokedAt, null);
  });

  await t.test('revoking is immediate, shows in the list, and may be repeated', async () => {
    const { key, secret } = await alice.call('apiKeys.create', { name: 'old' });
    assert.equal(await topicsWith(gateway!.port, secret), 200);
    assert.deepEqual(await alice.call('apiKeys.revoke', { keyId: key.id }), { ok: true });
    assert.equal(await topicsWith(gateway!.port, secret), 401);
    const revokedAt = (await alice.call('apiKeys.list', {})).keys.find((k) => k.id === key.id)!.revokedAt;
    assert.ok(revokedAt);
    assert.deepEqual(await alice.call('apiKeys.revoke', { keyId: key.id }), { ok: true });
    assert.equal((await alice.call('apiKeys.list', {})).keys.find((k) => k.id === key.id)!.revokedAt, revokedAt, 'the first revocation time stays');
  });

  await t.test('a use records lastUsedAt, at most once a minute', async () => {
    const { key, secret } = await alice.call('apiKeys.create', { name: 'watched' });
    assert.equal(await topicsWith(gateway!.port, secret), 200);
    let lastUsedAt: string | null = null;
    for (const deadline = Date.now() + 10_000; !lastUsedAt && Date.now() < deadline; ) {
      lastUsedAt = (await alice.call('apiKeys.list', {})).keys.find((k) => k.id === key.id)!.lastUsedAt;
      if (!lastUsedAt) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(lastUsedAt, 'lastUsedAt is set after a use');
    assert.ok(Math.abs(Date.parse(lastUsedAt) - Date.now()) < 60_000);
    for (let i = 0; i < 3; i += 1) assert.equal(await topicsWith(gateway!.port, secret), 200);
    const count = await withPg(system.authDatabaseUrl, async (db) => (await db.query('SELECT last_used_at FROM api_keys WHERE id = $1', [key.id])).rows[0].last_used_at as Date);
    assert.equal(count.toISOString(), lastUsedAt, 'uses within the minute write nothing');
  });

  await t.test('a user holds at most API_KEYS_MAX_PER_USER live keys, even when asking for many at once', async () => {
    const carol = await jsonRpcClient(gateway!, undefined, t);
    await register(carol, 'Carol');
    const answers = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => carol.call('apiKeys.create', { name: `k${i}` })));
    const made = answers.filter((answer) => answer.status === 'fulfilled');
    assert.equal(made.length, 20);
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        const error = (answer.reason as { error: { code: string; details: { reason: string; limit: number } } }).error;
        assert.equal(error.code, 'CONFLICT');
        assert.equal(error.details.reason, 'api_keys_per_user');
        assert.equal(error.details.limit, 20);
      }
    }
    assert.equal((await carol.call('apiKeys.list', {})).keys.length, 20);
    const first = made[0]!.value.key;
    await carol.call('apiKeys.revoke', { keyId: first.id });
    const again = await carol.call('apiKeys.create', { name: 'after a revoke' });
    assert.equal(again.key.name, 'after a revoke');
    assert.equal((await failure(carol.call('apiKeys.create', { name: 'one too many' }))).error.code, 'CONFLICT');
  });
});
