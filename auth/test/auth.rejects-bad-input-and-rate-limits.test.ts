// What auth refuses: duplicate emails, wrong credentials (without saying which part was wrong, in
// words or in time), malformed and oversized bodies (with nothing written), unknown ids, missing
// tokens, and repeated login failures and registrations per email and per client: in any database
// time zone, in parallel, across nodes, and whatever X-Forwarded-For a caller makes up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, median, startAuthCluster, sql, waitFor } from './helper.ts';

type ErrorBody = { error: { code: string; message: string; details: Record<string, unknown> } };

const WINDOW_SECONDS = 900; // LOGIN_FAILURE_WINDOW_MS's default

test('auth refuses bad input with clear errors and changes nothing', async (t) => {
  // The database runs in New York time: windows must neither vanish nor last hours.
  const cluster = await startAuthCluster(t, { nodes: 1, timezone: 'America/New_York', env: { LOGIN_MAX_FAILURES: '3', TRUST_PROXY: 'loopback' } });
  const [node] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const db = await sql(t, cluster);
  const rows = async () => {
    const result = await db.query<{ users: string; sessions: string }>('SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM sessions) AS sessions');
    return result.rows[0];
  };

  const grace = { email: 'grace@example.com', password: 'hopper-1906', name: 'Grace' };
  assert.equal((await call(node, 'POST', '/api/users', { body: grace, client: '10.9.0.1' })).status, 201);
  const before = await rows();

  await t.test('a taken email is 409, whatever its case', async () => {
    const duplicate = await call<ErrorBody>(node, 'POST', '/api/users', { body: { ...grace, email: 'GRACE@example.com' }, client: '10.9.0.2' });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error.code, 'CONFLICT');
  });

  await t.test('malformed, mistyped and oversized bodies are 400 with nothing written', async () => {
    const valid = { email: 'x@example.com', password: 'long enough', name: 'X' };
    // A body that would be accepted but for its size: only the limit can refuse it.
    const padded = `${JSON.stringify(valid)}${' '.repeat(16_384)}`;
    const cases: [string, { body?: unknown; rawBody?: string }][] = [
      ['missing password', { body: { email: 'x@example.com', name: 'X' } }],
      ['email not an email', { body: { ...valid, email: 'not-an-email' } }],
      ['password too short', { body: { ...valid, password: 'short' } }],
      ['name of wrong type', { body: { ...valid, name: 42 } }],
      ['empty name', { body: { ...valid, name: '   ' } }],
      ['unknown field', { body: { ...valid, admin: true } }],
      ['array body', { body: [] }],
      ['not JSON', { rawBody: '{"email":' }],
      ['valid body padded with whitespace beyond BODY_LIMIT_BYTES', { rawBody: padded }],
    ];
    for (const [label, request] of cases) {
      const response = await call<ErrorBody>(node, 'POST', '/api/users', { ...request, client: '10.9.0.3' });
      assert.equal(response.status, 400, label);
      assert.equal(response.body.error.code, 'INVALID_ARGUMENT', label);
    }
    const badLogin = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'grace@example.com' } });
    assert.equal(badLogin.status, 400);
    const badRename = await call<ErrorBody>(node, 'PATCH', '/api/users/me', { body: { name: 7 } });
    assert.equal(badRename.status, 400);
    assert.deepEqual(await rows(), before, 'no user or session was written');
    // The same body within the limit is accepted: the padding alone made it 400.
    const accepted = await call(node, 'POST', '/api/users', { rawBody: `${JSON.stringify(valid)}${' '.repeat(1_000)}`, client: '10.9.0.3' });
    assert.equal(accepted.status, 201);
  });

  await t.test('a wrong password and an unknown email get the same 401, in the same time', async () => {
    const wrong = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: grace.email, password: 'not-her-password' }, client: '10.2.0.1' });
    const unknown = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'nobody@example.com', password: 'not-her-password' }, client: '10.2.0.2' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, unknown.body, 'nothing tells the two apart');

    // Timing: an unknown email is checked against a decoy hash, so it costs a password check too.
    // One attempt per email and client, so no limit interferes.
    const users = Array.from({ length: 5 }, (_, i) => ({ email: `timed${i}@example.com`, password: 'the right one', name: `T${i}` }));
    for (const [i, user] of users.entries()) assert.equal((await call(node, 'POST', '/api/users', { body: user, client: `10.2.1.${i}` })).status, 201);
    const counts = await rows();
    const timed = async (email: string, client: string) => {
      const started = performance.now();
      const response = await call(node, 'POST', '/api/sessions', { body: { email, password: 'a wrong one' }, client });
      assert.equal(response.status, 401);
      return performance.now() - started;
    };
    const wrongTimes: number[] = [];
    const unknownTimes: number[] = [];
    for (const [i, user] of users.entries()) {
      wrongTimes.push(await timed(user.email, `10.2.2.${i}`));
      unknownTimes.push(await timed(`nobody${i}@example.com`, `10.2.3.${i}`));
    }
    const [wrongMedian, unknownMedian] = [median(wrongTimes), median(unknownTimes)];
    t.diagnostic(`median 401: wrong password ${wrongMedian.toFixed(1)} ms, unknown email ${unknownMedian.toFixed(1)} ms`);
    assert.ok(unknownMedian >= 0.4 * wrongMedian, `an unknown email answers as slowly as a wrong password (${unknownMedian.toFixed(1)} vs ${wrongMedian.toFixed(1)} ms)`);
    assert.equal((await rows())?.sessions, counts?.sessions, 'failed logins create no session');
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

  await t.test('internal routes answer only their callers: a user’s email to the gateway and the mailer, logins only through the gateway', async () => {
    const ivy = await call<{ user: { id: string } }>(node, 'POST', '/api/users', { body: { email: 'ivy@example.com', password: 'ivy-password', name: 'Ivy' } });
    assert.equal(ivy.status, 201);
    const path = `/api/users/${ivy.body.user.id}`;
    assert.equal((await call<{ email: string }>(node, 'GET', path, { as: 'mailer' })).body.email, 'ivy@example.com');
    for (const [as, status] of [[null, 401], ['counter', 403], ['persist', 403]] as const) {
      const answer = await call<ErrorBody>(node, 'GET', path, { as });
      assert.equal(answer.status, status, `as ${as}`);
      assert.equal(JSON.stringify(answer.body).includes('ivy@example.com'), false);
    }
    // A password guessed straight at auth, or a registration, without the gateway's credential: nothing checked or written.
    assert.equal((await call(node, 'POST', '/api/sessions', { as: null, body: { email: 'ivy@example.com', password: 'ivy-password' } })).status, 401);
    assert.equal((await call(node, 'POST', '/api/sessions', { as: 'mailer', body: { email: 'ivy@example.com', password: 'ivy-password' } })).status, 403);
    assert.equal((await call(node, 'POST', '/api/users', { as: null, body: { email: 'mallory@example.com', password: 'mallory-password', name: 'M' } })).status, 401);
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: 'mallory@example.com', password: 'mallory-password' } })).status, 401, 'mallory was never registered');
  });

  await t.test('a guesser spread over many addresses is throttled on the email, and cannot lock its owner out', async () => {
    const lin = { email: 'lin@example.com', password: 'lin-password', name: 'Lin' };
    assert.equal((await call(node, 'POST', '/api/users', { body: lin, client: '10.3.2.1' })).status, 201);
    // Four guessers fail once each: four failures on lin's email, past LOGIN_MAX_FAILURES (3).
    for (let i = 0; i < 4; i += 1) {
      const answer = await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: `wrong-${i}-pw` }, client: `10.3.0.${i}` });
      assert.equal(answer.status, 401, `guess ${i + 1}`);
    }
    // Each guesser that failed on lin is throttled now, even with the right password.
    for (let i = 0; i < 4; i += 1) {
      const limited = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: lin.email, password: lin.password }, client: `10.3.0.${i}` });
      assert.equal(limited.status, 429, `guesser 10.3.0.${i}`);
      assert.equal(limited.body.error.code, 'RATE_LIMITED');
      const retryAfter = Number(limited.body.error.details.retryAfterSeconds);
      assert.equal(limited.headers.get('retry-after'), String(retryAfter), 'the Retry-After header says the same');
      // In New York time a window read as UTC would look hours old (never 429) or hours long.
      assert.ok(retryAfter > WINDOW_SECONDS - 60 && retryAfter <= WINDOW_SECONDS, `the window is the configured 15 minutes (${retryAfter} s)`);
    }
    // A new address gets one guess while the email is past its limit: failing it throttles that address too.
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: 'another-guess' }, client: '10.3.0.9' })).status, 401);
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: 'one-more-guess' }, client: '10.3.0.9' })).status, 429);
    // Lin, from an address that has not failed, logs in; the guessers stay throttled.
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: lin.password }, client: '10.3.1.1' })).status, 200);
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: lin.email, password: 'wrong-again' }, client: '10.3.0.0' })).status, 429);
    const zone = await db.query<{ TimeZone: string }>('SHOW timezone');
    assert.equal(zone.rows[0]?.TimeZone, 'America/New_York', 'the database really runs in another time zone');
  });

  await t.test('repeated failures from one client are 429 for any email', async () => {
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: `guess${i}@example.com`, password: 'password1' }, client: '10.4.0.1' })).status, 401);
    }
    const limited = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'other@example.com', password: 'password1' }, client: '10.4.0.1' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After header');
    // Another client is not affected.
    assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: 'other@example.com', password: 'password1' }, client: '10.4.0.2' })).status, 401);
  });

  await t.test('successful logins take their attempt back: they never add up to a 429', async () => {
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: grace.email, password: grace.password }, client: '10.5.0.1' })).status, 200, `login ${i + 1}`);
    }
  });

  await t.test('a registration is user and session in one transaction: a failed session insert leaves no user', async (t) => {
    await db.query(`
      CREATE FUNCTION refuse_doomed_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id AND email = 'doomed@example.com') THEN
          RAISE EXCEPTION 'session insert refused by the test';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_doomed_session BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION refuse_doomed_session();`);
    t.after(() => db.query('DROP TRIGGER IF EXISTS refuse_doomed_session ON sessions; DROP FUNCTION IF EXISTS refuse_doomed_session()'));
    const doomed = { email: 'doomed@example.com', password: 'long enough', name: 'Doomed' };
    const failed = await call<ErrorBody>(node, 'POST', '/api/users', { body: doomed, client: '10.6.0.1' });
    assert.equal(failed.status, 500);
    const users = await db.query('SELECT 1 FROM users WHERE email = $1', [doomed.email]);
    assert.equal(users.rowCount, 0, 'the user insert was rolled back with the session insert');
    await db.query('DROP TRIGGER refuse_doomed_session ON sessions');
    assert.equal((await call(node, 'POST', '/api/users', { body: doomed, client: '10.6.0.1' })).status, 201, 'the email is still free');
  });
});

test('parallel wrong passwords, and failures spread over two nodes, count together', async (t) => {
  const cluster = await startAuthCluster(t, { env: { LOGIN_MAX_FAILURES: '3', TRUST_PROXY: 'loopback' } });
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const victim = { email: 'victim@example.com', password: 'the real password', name: 'Victim' };
  assert.equal((await call(a, 'POST', '/api/users', { body: victim })).status, 201);

  await t.test('20 parallel wrong passwords for one email from one address, half on each node: at most 3 are checked', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call<ErrorBody>(i % 2 ? b : a, 'POST', '/api/sessions', { body: { email: victim.email, password: `guess number ${i}` }, client: '10.7.0.1' }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    const unauthenticated = statuses.filter((status) => status === 401).length;
    t.diagnostic(`401: ${unauthenticated}, 429: ${statuses.filter((status) => status === 429).length}`);
    assert.ok(unauthenticated <= 3, `at most LOGIN_MAX_FAILURES passwords were checked (${unauthenticated})`);
    assert.deepEqual(statuses.filter((status) => status !== 401 && status !== 429), [], 'every other answer is 429');
    assert.equal((await call(b, 'POST', '/api/sessions', { body: { email: victim.email, password: victim.password }, client: '10.7.0.1' })).status, 429, 'the guesser, even with the right password');
  });

  await t.test('20 parallel guesses from 20 addresses: one check each, then each address is throttled on both nodes, and the owner still logs in', async () => {
    const guess = (i: number, node: typeof a, password: string) =>
      call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: victim.email, password }, client: `10.7.4.${i}` });
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => guess(i, i % 2 ? b : a, `guess number ${i}`)));
    assert.deepEqual(first.map((answer) => answer.status).filter((status) => status !== 401 && status !== 429), []);
    const second = await Promise.all(Array.from({ length: 20 }, (_, i) => guess(i, i % 2 ? a : b, `second guess ${i}`)));
    assert.deepEqual(second.map((answer) => answer.status), Array.from({ length: 20 }, () => 429), 'no address gets a second check');
    assert.equal((await call(a, 'POST', '/api/sessions', { body: { email: victim.email, password: victim.password }, client: '10.7.1.1' })).status, 200, 'the owner, from an address that never failed');
    assert.equal((await guess(0, b, victim.password)).status, 429, 'the guessers stay throttled');
  });

  await t.test('sequential failures of one address for one email alternate between the nodes and still add up', async () => {
    const email = 'alternating@example.com';
    for (const node of [a, b, a]) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email, password: 'wrong password' }, client: '10.7.2.1' })).status, 401);
    }
    assert.equal((await call(b, 'POST', '/api/sessions', { body: { email, password: 'wrong password' }, client: '10.7.2.1' })).status, 429);
  });

  await t.test('one client failing on both nodes is limited on both', async () => {
    for (const [i, node] of [b, a, b].entries()) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: `spread${i}@example.com`, password: 'wrong password' }, client: '10.7.3.1' })).status, 401);
    }
    assert.equal((await call(a, 'POST', '/api/sessions', { body: { email: 'spread9@example.com', password: 'wrong password' }, client: '10.7.3.1' })).status, 429);
    assert.equal((await call(b, 'POST', '/api/sessions', { body: { email: 'spread9@example.com', password: 'wrong password' }, client: '10.7.3.1' })).status, 429);
  });
});

test('with the default TRUST_PROXY a made-up X-Forwarded-For escapes no per-client limit', async (t) => {
  const cluster = await startAuthCluster(t, { nodes: 1, env: { LOGIN_MAX_FAILURES: '3', REGISTER_MAX_PER_CLIENT: '3' } });
  const [node] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const db = await sql(t, cluster);

  await t.test('failed logins: every spoofed address is the same client, the peer', async () => {
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: `spoof${i}@example.com`, password: 'password1' }, client: `203.0.113.${i}` })).status, 401);
    }
    const limited = await call<ErrorBody>(node, 'POST', '/api/sessions', { body: { email: 'spoof9@example.com', password: 'password1' }, client: '198.51.100.7' });
    assert.equal(limited.status, 429, 'a fresh X-Forwarded-For does not make a fresh client');
  });

  await t.test('registrations are limited per client (REGISTER_MAX_PER_CLIENT), with Retry-After', async () => {
    for (let i = 0; i < 3; i += 1) {
      const registered = await call(node, 'POST', '/api/users', { body: { email: `new${i}@example.com`, password: 'long enough', name: `N${i}` }, client: `203.0.113.${i}` });
      assert.equal(registered.status, 201);
    }
    const limited = await call<ErrorBody>(node, 'POST', '/api/users', { body: { email: 'new9@example.com', password: 'long enough', name: 'N9' }, client: '198.51.100.8' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    const retryAfter = Number(limited.body.error.details.retryAfterSeconds);
    assert.ok(retryAfter > 0 && retryAfter <= WINDOW_SECONDS);
    assert.equal(limited.headers.get('retry-after'), String(retryAfter));
    assert.equal((await db.query('SELECT 1 FROM users WHERE email = $1', ['new9@example.com'])).rowCount, 0, 'nothing written');
  });
});

test('throttle rows of ended windows are deleted', async (t) => {
  const cluster = await startAuthCluster(t, { nodes: 1, env: { LOGIN_FAILURE_WINDOW_MS: '1000' } });
  const [node] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const db = await sql(t, cluster);
  assert.equal((await call(node, 'POST', '/api/users', { body: { email: 'sweep@example.com', password: 'long enough', name: 'S' } })).status, 201);
  assert.equal((await call(node, 'POST', '/api/sessions', { body: { email: 'sweep@example.com', password: 'wrong password' } })).status, 401);
  const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM login_throttle')).rows[0]?.n);
  assert.ok((await count()) >= 2, 'the attempts were counted');
  await waitFor(async () => (await count()) === 0, 5_000);
});
