// Two real auth processes on one PostgreSQL: sessions work on either node, a logout on one is
// refused on the other at once, a restarted node answers correctly, and secrets never reach logs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { call, metric, startAuthCluster, waitFor } from './helper.ts';

type Grant = { user: { id: string; email: string; name: string }; token: string; expiresAt: string };

test('register, login, resolve and logout across two nodes; logout on A is refused on B at once', async (t) => {
  // Debug level: every request is logged too, so the secrets check below covers request logs.
  const cluster = await startAuthCluster(t, { env: { LOG_LEVEL: 'debug' } });
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const password = 'pa55-word-for-ada';

  const registered = await call<Grant>(a, 'POST', '/api/users', { body: { email: ' Ada@Example.COM ', password, name: 'Ada' } });
  assert.equal(registered.status, 201);
  assert.equal(registered.body.user.email, 'ada@example.com', 'emails are stored trimmed and lower-cased');
  assert.match(registered.body.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
  assert.ok(!('passwordHash' in registered.body.user));

  const login = await call<Grant>(b, 'POST', '/api/sessions', { body: { email: 'ada@example.com', password }, client: '10.1.0.1' });
  assert.equal(login.status, 200);
  assert.equal(login.body.user.id, registered.body.user.id);
  assert.notEqual(login.body.token, registered.body.token);

  // B resolves the token twice: the second answer comes from its cache.
  for (let i = 0; i < 2; i += 1) {
    const resolved = await call<Grant>(b, 'GET', '/api/sessions/current', { token: login.body.token });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.body.user.name, 'Ada');
  }
  assert.ok((await metric(b, 'auth_cache_requests_total', { cache: 'session', result: 'hit' })) >= 1, 'B serves the session from its cache');

  // One logout first, so connections between the nodes are open and the timing below is the steady state.
  const warmUp = await call<Grant>(b, 'POST', '/api/sessions', { body: { email: 'ada@example.com', password }, client: '10.1.0.1' });
  assert.equal((await call(a, 'DELETE', '/api/sessions/current', { token: warmUp.body.token })).status, 200);

  const started = performance.now();
  const logout = await call(a, 'DELETE', '/api/sessions/current', { token: login.body.token });
  assert.equal(logout.status, 200);
  const onB = await call<{ error: { code: string } }>(b, 'GET', '/api/sessions/current', { token: login.body.token });
  const elapsed = performance.now() - started;
  assert.equal(onB.status, 401, 'the very next request on B is refused');
  assert.equal(onB.body.error.code, 'UNAUTHENTICATED');
  t.diagnostic(`logout on A → refused on B: ${elapsed.toFixed(1)} ms`);
  assert.ok(elapsed < 100, `within 100 ms (${elapsed.toFixed(1)} ms)`);
  assert.equal(await metric(b, 'auth_replication_messages_total', { direction: 'received', result: 'ok' }), 2);
  const lag = (await metric(b, 'auth_replication_lag_seconds_sum')) / (await metric(b, 'auth_replication_lag_seconds_count'));
  t.diagnostic(`mean replication lag A → B: ${(lag * 1000).toFixed(1)} ms`);
  assert.ok(lag < 0.1, 'invalidations reach B within 100 ms');

  // The other session of the same user is untouched; logging out twice is refused.
  assert.equal((await call(b, 'GET', '/api/sessions/current', { token: registered.body.token })).status, 200);
  assert.equal((await call(b, 'DELETE', '/api/sessions/current', { token: login.body.token })).status, 401);

  // A profile change on B reaches A's cached user.
  assert.equal((await call<Grant>(a, 'GET', `/api/users/${registered.body.user.id}`)).body.user, undefined);
  assert.equal((await call<{ name: string }>(a, 'GET', `/api/users/${registered.body.user.id}`)).body.name, 'Ada');
  const renamed = await call<{ name: string }>(b, 'PATCH', '/api/users/me', { token: registered.body.token, body: { name: 'Ada Lovelace' } });
  assert.equal(renamed.status, 200);
  assert.equal((await call<{ name: string }>(a, 'GET', `/api/users/${registered.body.user.id}`)).body.name, 'Ada Lovelace');
  assert.equal((await call<Grant>(a, 'GET', '/api/sessions/current', { token: registered.body.token })).body.user.name, 'Ada Lovelace');

  // Metrics: logins and registrations are counted.
  assert.equal(await metric(a, 'auth_registrations_total'), 1);
  assert.equal(await metric(b, 'auth_logins_total', { result: 'success' }), 2);

  // No password, token or token hash in any log line of either node.
  const logs = JSON.stringify(cluster.logs());
  assert.ok(logs.length > 1_000, 'there are logs to search');
  for (const secret of [password, registered.body.token, login.body.token]) assert.ok(!logs.includes(secret), 'a secret reached the logs');
});

test('a node killed mid-run and restarted starts cold and answers correctly', async (t) => {
  const cluster = await startAuthCluster(t);
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const register = (email: string) => call<Grant>(a, 'POST', '/api/users', { body: { email, password: 'long enough pw', name: email } });
  const keep = (await register('keep@example.com')).body.token;
  const kill = (await register('kill@example.com')).body.token;
  for (const token of [keep, kill]) assert.equal((await call(b, 'GET', '/api/sessions/current', { token })).status, 200);

  await b.stop('SIGKILL');
  // Logged out while B is down: B cannot hear of it.
  assert.equal((await call(a, 'DELETE', '/api/sessions/current', { token: kill })).status, 200);
  const restarted = await cluster.startNode();
  assert.equal((await call(restarted, 'GET', '/api/sessions/current', { token: kill })).status, 401, 'no stale session after restart');
  assert.equal((await call(restarted, 'GET', '/api/sessions/current', { token: keep })).status, 200, 'live sessions still work');
});

test('a missed invalidation cannot keep a dead token alive past CACHE_TTL_MS', async (t) => {
  const cluster = await startAuthCluster(t, { nodes: 1, env: { CACHE_TTL_MS: '1000' } });
  const [node] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const { token, user } = (await call<Grant>(node, 'POST', '/api/users', { body: { email: 'ttl@example.com', password: 'long enough pw', name: 'T' } })).body;
  assert.equal((await call(node, 'GET', '/api/sessions/current', { token })).status, 200);

  // Revoked behind the service's back (as if the invalidation were lost): the cache may serve it briefly, never longer.
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  t.after(() => client.end());
  const revoked = await client.query('UPDATE sessions SET revoked_at = now() WHERE user_id = $1', [user.id]);
  assert.equal(revoked.rowCount, 1);
  const since = Date.now();
  await waitFor(async () => (await call(node, 'GET', '/api/sessions/current', { token })).status === 401, 3_000);
  assert.ok(Date.now() - since <= 1_200, 'refused within the cache TTL');
});
