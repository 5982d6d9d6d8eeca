// What auth refuses: duplicate emails, wrong credentials (without saying which part was wrong),
// malformed and oversized bodies (with nothing written), unknown ids, missing tokens, and
// repeated login failures per email and per client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { call, startAuthCluster } from './helper.ts';

type ErrorBody = { error: { code: string; message: string; details: Record<string, unknown> } };

test('auth refuses bad input with clear errors and changes nothing', async (t) => {
  const cluster = await startAuthCluster(t, { nodes: 1, env: { LOGIN_MAX_FAILURES: '3' } });
  const [node] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  t.after(() => db.end());
  const rows = async () => {
    const result = await db.query<{ users: string; sessions: string }>('SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM sessions) AS sessions');
    return result.rows[0];
  };

  const grace = { email: 'grace@example.com', password: 'hopper-1906', name: 'Grace' };
  assert.equal((await call(node, 'POST', '/api/users', { body: grace })).status, 201);
  const before = await rows();

  await t.test('a taken email is 409, whatever its case', async () => {
    const duplicate = await call<ErrorBody>(node, 'POST', '/api/users', { body: { ...grace, email: 'GRACE@example.com' } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error.code, 'CONFLICT');
  });

  await t.test('malformed, mistyped and oversized bodies are 400 with nothing written', async () => {
    const cases: [string, { body?: unknown; rawBody?: string }][] = [
      ['missing password', { body: { email: 'x@example.com', name: 'X' } }],
      ['email not an email', { body: { email: 'not-an-email', password: 'long enough', name: 'X' } }],
      ['password too short', { body: { email: 'x@example.com', password: 'short', name: 'X' } }],
      ['name of wrong type', { body: { email: 'x@example.com', password: 'long enough', name: 42 } }],
      ['empty name', { body: { email: 'x@example.com', password: 'long enough', name: '   ' } }],
      ['unknown field', { body: { email: 'x@example.com', password: 'long enough', name: 'X', admin: true } }],
      ['array body', { body: [] }],
      ['not JSON', { rawBody: '{"email":' }],
      ['oversized', { body: { email: 'x@example.com', password: 'long enough', name: 'X'.repeat(20_000) } }],
    ];
    for (const [label, request] of cases) {
      const response = await call<ErrorBody>(node, 'POST', '/api/users', request);
      assert.equal(response.status, 400, label);
      assert.equal(response.body.error.code, 'INVALID_ARGUMENT', label);
    }
    const badLogin = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'grace@example.com' } });
    assert.equal(badLogin.status, 400);
    const badRename = await call<ErrorBody>(node, 'PATCH', '/api/users/me', { body: { name: 7 } });
    assert.equal(badRename.status, 400);
    assert.deepEqual(await rows(), before, 'no user or session was written');
  });

  await t.test('a wrong password and an unknown email get the same 401', async () => {
    const wrong = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: grace.email, password: 'not-her-password' }, client: '10.2.0.1' });
    const unknown = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'nobody@example.com', password: 'not-her-password' }, client: '10.2.0.2' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong, unknown, 'nothing tells the two apart');
    assert.deepEqual(await rows(), before, 'failed logins create no session');
  });

  await t.test('tokens: missing, malformed or unknown are 401; unknown user ids 404, malformed 400', async () => {
    for (const token of [undefined, 'short', 'A'.repeat(43)]) {
      const response = await call<ErrorBody>(node, 'GET', '/api/sessions/current', token ? { token } : {});
      assert.equal(response.status, 401);
      assert.equal(response.body.error.code, 'UNAUTHENTICATED');
    }
    assert.equal((await call(node, 'PATCH', '/api/users/me', { body: { name: 'Nope' } })).status, 401);
    assert.equal((await call<ErrorBody>(node, 'GET', '/api/users/00000000-0000-4000-8000-000000000000')).body.error.code, 'NOT_FOUND');
    assert.equal((await call(node, 'GET', '/api/users/not-a-uuid')).status, 400);
  });

  await t.test('repeated failures for one email are 429, even with the right password, from any client', async () => {
    const lin = { email: 'lin@example.com', password: 'lin-password', name: 'Lin' };
    assert.equal((await call(node, 'POST', '/api/users', { body: lin })).status, 201);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: `wrong-${i}-pw` }, client: `10.3.0.${i}` })).status, 401);
    }
    const limited = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: lin.email, password: lin.password }, client: '10.3.1.1' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(limited.body.error.details.retryAfterSeconds) > 0);
  });

  await t.test('repeated failures from one client are 429 for any email', async () => {
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: `guess${i}@example.com`, password: 'password1' }, client: '10.4.0.1' })).status, 401);
    }
    const limited = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'other@example.com', password: 'password1' }, client: '10.4.0.1' });
    assert.equal(limited.status, 429);
    // Another client is not affected.
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: 'other@example.com', password: 'password1' }, client: '10.4.0.2' })).status, 401);
  });
});
