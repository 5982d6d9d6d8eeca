// Property-based fuzzing (fast-check) of every client-facing surface of the running system: every
// RPC method on both transports, anonymous and logged in, and every REST route of every service,
// with wrong types, NUL characters, unpaired surrogates, oversized strings, forged cursors and other
// users' ids. Nothing answers a 5xx (or INTERNAL/UNAVAILABLE/TIMEOUT), no connection is dropped,
// and no row is written anywhere. Then: poisoned frames from one client leave everyone else served.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { request } from 'undici';
import { RPC_METHODS } from '@notify/lib/rpc';
import { serviceHeaders, TEST_DISCOVERY_TOKEN } from '@notify/lib/testing';
import { jsonRpcClient, register, socketIoClient, startSystem, type System } from './helper.ts';

/** Error codes that would mean the system, not the caller, failed. */
const SERVER_FAULTS = new Set(['INTERNAL', 'UNAVAILABLE', 'TIMEOUT']);
const RUNS = { rpcPerClient: 300, restPerService: 120 };
/** users.logout takes no params: `{}` would end the session the fuzzer calls with. */
const FUZZED_METHODS = RPC_METHODS.filter((method) => method !== 'users.logout');
/** Methods whose empty params are a real write (marking all read): they get a forged topic id instead of `{}`. */
const WRITES_WITHOUT_PARAMS = new Set(['notifications.readAll']);
const poisoned = (method: string, params: unknown) =>
  WRITES_WITHOUT_PARAMS.has(method) && typeof params === 'object' && params !== null && !Array.isArray(params) && Object.keys(params).length === 0 ? { topicId: 'not-a-uuid' } : params;

const NUL = fc.string({ maxLength: 20 }).map((text) => `${text}\u0000${text}`);
const LONE_SURROGATE = fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF')).map(([text, half]) => `${text}${half}`);
const HUGE = fc.constantFrom(20_001, 70_000).map((length) => 'x'.repeat(length));
/** Well-formed base64url JSON that no service issued: wrong shapes, non-uuid ids, years PostgreSQL refuses. */
const FORGED_CURSOR = fc
  .oneof(
    fc.record({ t: fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-01-01T00:00:00Z', 'yesterday'), id: fc.oneof(fc.string({ maxLength: 40 }), fc.uuid()) }),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map((value) => Buffer.from(JSON.stringify(value)).toString('base64url'));
const WRONG_TYPE = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }));
/** A value no field accepts as valid. */
const POISON = fc.oneof(NUL, LONE_SURROGATE, HUGE, WRONG_TYPE);

/** Params where every value is refused by its field, so no call can legitimately write anything. */
function poisonedParams(ids: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  const keys = ['email', 'password', 'name', 'description', 'title', 'body', 'topicId', 'notificationId', 'cursor', 'limit', 'mine', 'subscribed', 'unreadOnly', 'to', 'email', 'url'];
  const entry = fc.oneof(
    fc.constantFrom(...keys).chain((key) =>
      fc.tuple(
        fc.constant(key),
        key === 'cursor'
          ? fc.oneof(FORGED_CURSOR, POISON)
          : key.endsWith('Id')
            ? fc.oneof(ids, POISON)
            : key === 'to'
              ? fc.array(POISON, { maxLength: 3 })
              : // `email: true|false` alone is a real write (preferences.set): never a boolean there.
                key === 'email'
                ? POISON.filter((value) => typeof value !== 'boolean')
                : POISON,
      ),
    ),
    fc.tuple(fc.oneof(NUL, LONE_SURROGATE, fc.string({ maxLength: 10 })), POISON),
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(entry, { maxLength: 4, selector: ([key]) => key }).map((entries) => Object.fromEntries(entries)) },
    { weight: 1, arbitrary: fc.array(POISON, { maxLength: 3 }) },
    { weight: 1, arbitrary: POISON },
  );
}

/** Percent-encodes a path parameter; an unpaired surrogate goes as its 3 WTF-8 bytes, which no UTF-8 decoder accepts. */
function encodePathParam(text: string): string {
  return text
    .split(/([\uD800-\uDFFF])/)
    .map((piece) => {
      if (piece.length !== 1 || !/[\uD800-\uDFFF]/.test(piece)) return encodeURIComponent(piece);
      const unit = piece.charCodeAt(0);
      return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');
    })
    .join('');
}

/** Rows in every table of a database's public schema but the migration bookkeeping. */
async function rowCounts(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '%migrations%' ORDER BY 1`,
    );
    const counts: Record<string, number> = {};
    // A refused transaction is remembered as aborted in the two-phase logs (a late prepare or a
    // repeated rollback must stay refused): that record is the refusal, not a change. Every other
    // row counts, and a prepared or committed transaction would too.
    const refusalsApart = (name: string) => (name === 'two_phase_transactions' || name === 'coordinator_transactions' ? ` WHERE state <> 'aborted'` : '');
    for (const { name } of tables) counts[name] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}"${refusalsApart(name)}`)).rows[0]!.n);
    return counts;
  } finally {
    await client.end();
  }
}

async function allRowCounts(system: System): Promise<Record<string, Record<string, number>>> {
  const urls = { auth: system.authDatabaseUrl, persist: system.persistDatabaseUrl, counter: system.counterDatabaseUrl, gateway: system.gatewayDatabaseUrl };
  return Object.fromEntries(await Promise.all(Object.entries(urls).map(async ([service, url]) => [service, await rowCounts(url)] as const)));
}

/** Base URLs of a service's instances, from discovery. */
async function instancesOf(system: System, service: string): Promise<string[]> {
  const answer = await request(`${system.discovery.url}/v1/health/service/${service}?passing`, { headers: { 'x-consul-token': TEST_DISCOVERY_TOKEN } });
  const entries = (await answer.body.json()) as { Service: { Address: string; Port: number } }[];
  return entries.map((entry) => `http://${entry.Service.Address}:${entry.Service.Port}`);
}

/** Each service's routes, `:x` standing for a path parameter the fuzzer fills. */
const REST_ROUTES: Record<string, [method: string, path: string][]> = {
  persist: [
    ['POST', '/api/topics'], ['GET', '/api/topics'], ['GET', '/api/topics/:x'], ['DELETE', '/api/topics/:x'], ['POST', '/api/topics/:x/subscriptions'],
    ['DELETE', '/api/topics/:x/subscriptions'], ['GET', '/api/topics/:x/subscribers'], ['GET', '/api/users/:x/notifications'], ['GET', '/api/notifications/:x/trace'],
    ['POST', '/api/notifications/:x/events'], ['POST', '/api/notifications/:x/events/batch'], ['POST', '/api/notifications'], ['POST', '/api/notifications/commit_2pc'],
    ['DELETE', '/api/notifications/rollback_2pc'], ['POST', '/api/prepare_2pc'], ['POST', '/api/commit_2pc'], ['DELETE', '/api/rollback_2pc'], ['GET', '/api/2pc/:x'],
    ['POST', '/api/prepare_2pc/batch'], ['POST', '/api/commit_2pc/batch'], ['POST', '/api/rollback_2pc/batch'], ['POST', '/api/events/batch'],
    ['PATCH', '/api/topics/:x/subscriptions'], ['GET', '/api/preferences'], ['PUT', '/api/preferences'], ['GET', '/api/users/:x/email-preferences'],
    ['GET', '/api/topics/:x/subscriber-names'], ['GET', '/api/users/:x/notifications/unread'], ['PUT', '/api/notifications/:x/archived'],
  ],
  counter: [
    ['GET', '/api/counters/:x'], ['POST', '/api/counters/query'], ['POST', '/api/prepare_2pc'], ['POST', '/api/commit_2pc'], ['DELETE', '/api/rollback_2pc'], ['GET', '/api/2pc/:x'],
    ['POST', '/api/prepare_2pc/batch'], ['POST', '/api/commit_2pc/batch'], ['POST', '/api/rollback_2pc/batch'],
  ],
  // (DELETE /api/sessions/current takes no input: it would end the caller's session.)
  auth: [['POST', '/api/sessions'], ['GET', '/api/sessions/current'], ['POST', '/api/users'], ['GET', '/api/users/:x'], ['PATCH', '/api/users/me']],
  mailer: [['POST', '/api/emails/welcome'], ['POST', '/api/emails/notification'], ['GET', '/api/jobs/:x'], ['GET', '/api/jobs/dead'], ['GET', '/api/queues']],
  avatar: [['GET', '/avatars/:x.png'], ['GET', '/avatars/:x']],
  gateway: [['GET', '/avatars/:x.png'], ['GET', '/avatars/:x'], ['PUT', '/api/v1/me/avatar'], ['DELETE', '/api/v1/me/avatar'], ['GET', '/api/2pc/:x'], ['GET', '/health'], ['GET', '/status'], ['GET', '/api/v1/unsubscribe?token=:x'], ['POST', '/api/v1/unsubscribe?token=:x']],
  discovery: [
    ['PUT', '/v1/agent/service/register'], ['PUT', '/v1/agent/service/deregister/:x'], ['PUT', '/v1/agent/check/pass/:x'], ['PUT', '/v1/agent/check/update/:x'],
    ['GET', '/v1/catalog/service/:x'], ['GET', '/v1/health/service/:x'], ['GET', '/v1/agent/services'],
  ],
};

test('fuzzed RPC calls and REST requests never get a 5xx, never drop a connection, and write nothing', { timeout: 600_000 }, async (t) => {
  const system = await startSystem(t, { mailer: true, avatar: true });
  const [gateway] = system.gateways;
  // Two users, each subscribed to the other's topic, with one notification delivered each way.
  const aliceIo = await socketIoClient(gateway!, undefined, t);
  const alice = await register(aliceIo, 'alice');
  const bobRpc = await jsonRpcClient(gateway!, undefined, t);
  const bob = await register(bobRpc, 'bob');
  const bobsTopic = await bobRpc.call('topics.create', { name: `fuzz-${Date.now()}` });
  await aliceIo.call('topics.subscribe', { topicId: bobsTopic.id });
  const toAlice = await bobRpc.call('notifications.publish', { topicId: bobsTopic.id, title: 'seed', body: 'for the fuzzer' });
  await aliceIo.next('notification', (n) => n.id === toAlice.notification.id);
  const alicesTopic = await aliceIo.call('topics.create', { name: `fuzz-a-${Date.now()}` });
  await bobRpc.call('topics.subscribe', { topicId: alicesTopic.id });
  const toBob = await aliceIo.call('notifications.publish', { topicId: alicesTopic.id, title: 'seed', body: 'for the fuzzer' });
  await bobRpc.next('notification', (n) => n.id === toBob.notification.id);
  // Ids of real things that no fuzzed call may legitimately change: a live topic's id is left out,
  // since subscribing to it (or unsubscribing from it) is a real write; a deleted one stands in. A
  // caller gets the id of the notification delivered to the other user, never of its own: acking or
  // archiving one's own notification is a real write (CI once drew alice's ack of hers).
  const gone = await bobRpc.call('topics.create', { name: `fuzz-gone-${Date.now()}` });
  await bobRpc.call('topics.delete', { topicId: gone.id });
  const idsWith = (...notifications: string[]) =>
    fc.oneof(fc.uuid(), fc.constantFrom(alice.id, bob.id, gone.id, ...notifications, 'not-a-uuid', '00000000-0000-0000-0000-000000000000'));
  const idsFor = { alice: idsWith(toBob.notification.id), bob: idsWith(toAlice.notification.id), anonymous: idsWith(toAlice.notification.id, toBob.notification.id) };
  const unread = { alice: (await aliceIo.call('counters.get')).unread, bob: (await bobRpc.call('counters.get')).unread };

  const before = await allRowCounts(system);
  const tried: Record<string, number> = {};
  const count = (surface: string) => (tried[surface] = (tried[surface] ?? 0) + 1);

  // RPC: logged-in clients (the creator of the topic, over JSON-RPC; the subscriber, over socket.io) and anonymous ones.
  const anonymousRpc = await jsonRpcClient(gateway!, undefined, t);
  const anonymousIo = await socketIoClient(gateway!, undefined, t);
  const rpcClients = { 'json-rpc (bob)': [bobRpc, idsFor.bob], 'json-rpc (anonymous)': [anonymousRpc, idsFor.anonymous] } as const;
  for (const [surface, [client, ids]] of Object.entries(rpcClients)) {
    let id = 1_000;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FUZZED_METHODS), poisonedParams(ids), async (method, generated) => {
        const params = poisoned(method, generated);
        count(surface);
        const before = client.replies.length;
        id += 1;
        client.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
        while (client.replies.length === before) {
          assert.equal(client.socket.readyState, client.socket.OPEN, `${surface}: the connection stays open after ${method}`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        const reply = client.replies[before] as { id: number; error?: { code: number; data: { code: string } } };
        assert.equal(reply.id, id);
        assert.ok(!reply.error || !SERVER_FAULTS.has(reply.error.data.code), `${surface}: ${method} ${JSON.stringify(params).slice(0, 200)} → ${JSON.stringify(reply.error)}`);
      }),
      { numRuns: RUNS.rpcPerClient },
    );
  }
  for (const [surface, [client, ids]] of Object.entries({ 'socket.io (alice)': [aliceIo, idsFor.alice], 'socket.io (anonymous)': [anonymousIo, idsFor.anonymous] } as const)) {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FUZZED_METHODS), poisonedParams(ids), async (method, generated) => {
        const params = poisoned(method, generated);
        count(surface);
        const reply = (await client.socket.timeout(30_000).emitWithAck(method, params)) as { error?: { code: string } };
        assert.ok(!reply.error || !SERVER_FAULTS.has(reply.error.code), `${surface}: ${method} ${JSON.stringify(params).slice(0, 200)} → ${JSON.stringify(reply.error)}`);
        assert.ok(client.socket.connected, `${surface}: still connected after ${method}`);
      }),
      { numRuns: RUNS.rpcPerClient },
    );
  }

  // REST: every route of every service, path parameters and bodies poisoned, as a logged-in caller would send them (alice).
  const ids = idsFor.alice;
  const pathParam = fc.oneof(ids, NUL, LONE_SURROGATE, fc.string({ maxLength: 30 }), fc.constant('%00'), fc.constant('%ED%A0%80'), fc.constant('x'.repeat(1_200)));
  const prepare = fc.record({ txId: fc.oneof(fc.uuid(), POISON), action: fc.oneof(POISON, fc.constantFrom('notification.create', 'notification.ack', 'notification.read_all')), payload: poisonedParams(ids), timeoutMs: fc.oneof(fc.integer(), POISON) });
  const restBody = fc.oneof(
    poisonedParams(ids),
    prepare,
    // The participants' batch routes: many prepares, or one decision for many transactions.
    fc.record({ items: fc.oneof(fc.array(prepare, { maxLength: 4 }), POISON) }),
    fc.record({ txIds: fc.oneof(fc.array(fc.oneof(fc.uuid(), POISON), { maxLength: 4 }), POISON) }),
  );
  // Signed as each of the system's callers (or as none), so the poison reaches the handlers of every route.
  const caller = fc.constantFrom('gateway', 'auth', 'mailer', 'persist', 'counter', undefined);
  for (const [service, routes] of Object.entries(REST_ROUTES)) {
    const [base] = service === 'gateway' ? [gateway!.url] : service === 'discovery' ? [system.discovery.url] : await instancesOf(system, service);
    assert.ok(base, `${service} is running`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), pathParam, fc.option(restBody, { nil: undefined }), fc.option(FORGED_CURSOR, { nil: undefined }), caller, async ([method, template], param, body, cursor, as) => {
        count(`rest ${service}`);
        const filled = template.replace(':x', /%[0-9A-F]{2}/.test(param) ? param : encodePathParam(param));
        const path = method === 'GET' && cursor ? `${filled}?cursor=${cursor}&limit=5` : filled;
        const answer = await request(`${base}${path}`, {
          method: method as 'GET',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${alice.token}`,
            ...(as ? serviceHeaders(as, service, alice.id) : {}),
            // Discovery judges by ACL token: the management token lets the fuzz reach its parsing.
            ...(service === 'discovery' ? { 'x-consul-token': TEST_DISCOVERY_TOKEN } : {}),
          },
          ...(body === undefined || method === 'GET' ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await answer.body.text();
        assert.ok(answer.statusCode < 500, `${service}: ${method} ${path.slice(0, 120)} ${JSON.stringify(body)?.slice(0, 200)} → ${answer.statusCode} ${text.slice(0, 300)}`);
      }),
      { numRuns: RUNS.restPerService },
    );
  }

  const total = Object.values(tried).reduce((sum, n) => sum + n, 0);
  t.diagnostic(`inputs tried: ${total} (${Object.entries(tried).map(([surface, n]) => `${surface} ${n}`).join(', ')})`);
  assert.ok(total >= 2_000, `at least 2,000 inputs (${total})`);
  assert.deepEqual(await allRowCounts(system), before, 'no row written anywhere');
  // Every connection lived through it and still serves its user.
  assert.equal((await bobRpc.call('users.me')).id, bob.id);
  assert.deepEqual({ alice: (await aliceIo.call('counters.get')).unread, bob: (await bobRpc.call('counters.get')).unread }, unread);
  await anonymousRpc.call('users.login', { email: bob.email, password: 'correct horse battery' });
  await anonymousIo.call('users.login', { email: alice.email, password: 'correct horse battery' });
});

test('twenty poisoned frames from one client leave every other user’s login and topic calls working', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const carol = await register(await jsonRpcClient(gateway!, undefined, t), 'carol');
  const mallory = await jsonRpcClient(gateway!, undefined, t);
  const poisons = ['\u0000', '\uD800', 'a\uDFFFb', 'x\u0000y'];
  for (let i = 0; i < 10; i += 1) {
    const text = poisons[i % poisons.length]!;
    mallory.send(JSON.stringify({ jsonrpc: '2.0', id: `login-${i}`, method: 'users.login', params: { email: `m${text}@example.test`, password: `p${text}assword` } }));
    mallory.send(JSON.stringify({ jsonrpc: '2.0', id: `register-${i}`, method: 'users.register', params: { email: `m${i}@example.test`, password: 'long enough', name: `m${text}` } }));
  }
  while (mallory.replies.length < 20) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const reply of mallory.replies as { error?: { data: { code: string } } }[]) assert.equal(reply.error?.data.code, 'INVALID_ARGUMENT');
  // Then logged in, poisoned topic names and publications.
  await register(mallory, 'mallory');
  for (const text of poisons) {
    await assert.rejects(mallory.call('topics.create', { name: `t${text}` }), (error: { error: { code: string } }) => error.error.code === 'INVALID_ARGUMENT');
    await assert.rejects(mallory.call('topics.list', { cursor: Buffer.from(JSON.stringify({ t: '2026-01-01T00:00:00Z', id: `x${text}` })).toString('base64url') }), (error: { error: { code: string } }) => error.error.code === 'INVALID_ARGUMENT');
  }
  // Everyone else: logins and topic calls on both transports, right away.
  for (const client of [await jsonRpcClient(gateway!, undefined, t), await socketIoClient(gateway!, undefined, t)]) {
    const { user } = await client.call('users.login', { email: carol.email, password: 'correct horse battery' });
    assert.equal(user.id, carol.id);
    const created = await client.call('topics.create', { name: `after-poison-${Math.random()}` });
    assert.ok((await client.call('topics.list', { mine: true })).topics.some((topic) => topic.id === created.id));
  }
});
