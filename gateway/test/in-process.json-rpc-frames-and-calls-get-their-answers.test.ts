// The dispatcher and handleFrame in one process, over fake upstreams: every bad frame gets the
// JSON-RPC error its fault deserves and reaches no service; a batch is answered item by item, in
// order, notifications left out; a call needs a user unless it is register or login, and acts
// as that user; upstream and unexpected errors become contract errors with JSON-RPC numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createError } from '@notify/lib';
import { JSON_RPC_ERRORS } from '@notify/lib/rpc';
import { hashToken } from '../src/sessions.ts';
import { handleFrame } from '../src/transports/json-rpc-frames.ts';
import type { FakeConnection } from './fakes/connections.ts';
import { inProcessGateway, type InProcessGateway } from './fakes/gateway.ts';
import { gate } from './fakes/wait.ts';

interface Reply {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data: { code: string; details?: Record<string, unknown> } };
}

const USER = { id: '5f0c8a1e-0000-4000-8000-000000000001', email: 'ada@example.test', name: 'Ada', createdAt: '2026-01-01T00:00:00.000Z' };

function frames(gateway: InProcessGateway, connection: FakeConnection) {
  return {
    /** The answer to one frame as a client would read it (JSON in, JSON out). */
    one: async (text: string | null): Promise<Reply> => {
      const answer = await handleFrame(gateway.dispatcher, connection, text);
      assert.ok(answer && !Array.isArray(answer), `one reply to ${text}: ${JSON.stringify(answer)}`);
      return JSON.parse(JSON.stringify(answer)) as Reply;
    },
    batch: async (items: unknown[]): Promise<Reply[] | undefined> => {
      const answer = await handleFrame(gateway.dispatcher, connection, JSON.stringify(items));
      assert.ok(answer === undefined || Array.isArray(answer), 'a batch is answered with a batch');
      return answer === undefined ? undefined : (JSON.parse(JSON.stringify(answer)) as Reply[]);
    },
  };
}

function upstreamCalls(gateway: InProcessGateway): number {
  const { auth, persist, counter, mailer } = gateway.upstreams;
  return auth.callCount + persist.callCount + counter.callCount + mailer.callCount;
}

test('frames that are not JSON-RPC requests get invalid-request or parse errors and reach no service', async (t) => {
  const gateway = await inProcessGateway(t);
  const { one } = frames(gateway, gateway.connect());
  const cases: { frame: string | null; number: number; id: unknown }[] = [
    { frame: null, number: JSON_RPC_ERRORS.invalidRequest, id: null },
    { frame: '{"jsonrpc":"2.0","id":1,', number: JSON_RPC_ERRORS.parseError, id: null },
    { frame: '42', number: JSON_RPC_ERRORS.invalidRequest, id: null },
    { frame: 'null', number: JSON_RPC_ERRORS.invalidRequest, id: null },
    { frame: '[]', number: JSON_RPC_ERRORS.invalidRequest, id: null },
    { frame: '{"jsonrpc":"1.0","id":7,"method":"users.me"}', number: JSON_RPC_ERRORS.invalidRequest, id: 7 },
    { frame: '{"id":8,"method":"users.me"}', number: JSON_RPC_ERRORS.invalidRequest, id: 8 },
    { frame: '{"jsonrpc":"2.0","id":{"a":1},"method":"users.me"}', number: JSON_RPC_ERRORS.invalidRequest, id: null },
    { frame: '{"jsonrpc":"2.0","id":2,"method":42}', number: JSON_RPC_ERRORS.invalidRequest, id: 2 },
    ...['"x"', '5', 'true', 'null'].map((params) => ({ frame: `{"jsonrpc":"2.0","id":"p","method":"users.login","params":${params}}`, number: JSON_RPC_ERRORS.invalidRequest, id: 'p' })),
  ];
  for (const { frame, number, id } of cases) {
    const reply = await one(frame);
    assert.equal(reply.jsonrpc, '2.0');
    assert.equal(reply.error?.code, number, `${frame} → ${JSON.stringify(reply)}`);
    assert.equal(reply.error?.data.code, 'INVALID_ARGUMENT', `${frame}`);
    assert.equal(reply.id, id, `${frame} keeps the id it can`);
    assert.equal(reply.result, undefined);
  }
  assert.equal(upstreamCalls(gateway), 0, 'no bad frame reached a service');
});

test('an unknown method is method-not-found (inherited names too); as a notification it gets no answer', async (t) => {
  const gateway = await inProcessGateway(t);
  const { one } = frames(gateway, gateway.connect('ada'));
  for (const method of ['topics.nuke', '__proto__', 'constructor', 'toString', '']) {
    const reply = await one(JSON.stringify({ jsonrpc: '2.0', id: method, method }));
    assert.equal(reply.error?.code, JSON_RPC_ERRORS.methodNotFound, `${method} → ${JSON.stringify(reply)}`);
    assert.equal(reply.error?.data.code, 'NOT_FOUND');
    assert.equal(reply.id, method);
  }
  assert.equal(await handleFrame(gateway.dispatcher, gateway.connect('ada'), '{"jsonrpc":"2.0","method":"topics.nuke"}'), undefined);
  assert.equal(upstreamCalls(gateway), 0);
});

test('params that fail the method’s schema are invalid-params naming each issue; the service is not called', async (t) => {
  const gateway = await inProcessGateway(t);
  const anonymous = frames(gateway, gateway.connect());
  const signedIn = frames(gateway, gateway.connect('ada'));

  const missing = await anonymous.one('{"jsonrpc":"2.0","id":1,"method":"users.register","params":{"email":"x@example.test"}}');
  assert.equal(missing.error?.code, JSON_RPC_ERRORS.invalidParams);
  assert.equal(missing.error?.data.code, 'INVALID_ARGUMENT');
  assert.deepEqual(new Set((missing.error?.data.details?.issues as { path: string }[]).map((issue) => issue.path)), new Set(['password', 'name']));
  const positional = await anonymous.one('{"jsonrpc":"2.0","id":2,"method":"users.login","params":["a","b"]}');
  assert.equal(positional.error?.code, JSON_RPC_ERRORS.invalidParams);

  const publish = await signedIn.one(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'notifications.publish', params: { topicId: 'not-a-uuid', title: '', body: 5, extra: true } }));
  assert.equal(publish.error?.code, JSON_RPC_ERRORS.invalidParams);
  assert.deepEqual(new Set((publish.error?.data.details?.issues as { path: string }[]).map((issue) => issue.path)), new Set(['topicId', 'title', 'body', '']));
  // Text PostgreSQL cannot store is refused here, before any service sees it.
  const nul = await signedIn.one(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'topics.create', params: { name: 'a\u0000b' } }));
  assert.equal(nul.error?.code, JSON_RPC_ERRORS.invalidParams);
  assert.equal(upstreamCalls(gateway), 0);
  assert.equal(gateway.participants.requests.length, 0);
});

test('a call needs a user unless it is register or login; after login the calls act as that user, after logout they are refused again', async (t) => {
  const gateway = await inProcessGateway(t);
  const { auth, persist } = gateway.upstreams;
  auth.answer('login', ({ body }) => ({ user: { ...USER, email: body.email }, token: 'the-token', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
  auth.answer('endSession', () => ({ ok: true }));
  persist.answer('listTopics', ({ query }) => ({ topics: [], nextCursor: query.cursor ?? null }));
  const connection = gateway.connect(undefined, { remoteAddress: '198.51.100.7' });
  const { one } = frames(gateway, connection);

  // Session checked before params: an anonymous caller learns nothing about the method's schema.
  for (const frame of ['{"jsonrpc":"2.0","id":1,"method":"topics.list","params":{}}', '{"jsonrpc":"2.0","id":2,"method":"topics.list","params":{"limit":"x"}}']) {
    const refused = await one(frame);
    assert.equal(refused.error?.code, JSON_RPC_ERRORS.applicationError);
    assert.equal(refused.error?.data.code, 'UNAUTHENTICATED');
  }
  assert.equal(persist.callCount, 0);

  const login = await one('{"jsonrpc":"2.0","id":3,"method":"users.login","params":{"email":"ada@example.test","password":"secret"}}');
  assert.deepEqual(login.result, { user: { id: USER.id, email: USER.email, name: USER.name, avatarUrl: `/avatars/${USER.id}?v=generated` }, token: 'the-token' });
  assert.equal(auth.calls('login')[0]?.headers['x-forwarded-for'], '198.51.100.7', 'auth sees the client’s address');
  assert.equal(connection.session?.user.id, USER.id);

  const listed = await one('{"jsonrpc":"2.0","id":4,"method":"topics.list","params":{"mine":true,"limit":5}}');
  assert.deepEqual(listed.result, { topics: [], nextCursor: null });
  const [call] = persist.calls('listTopics');
  assert.equal(call?.user, USER.id, 'persist is told which user acts');
  assert.deepEqual(call?.query, { mine: true, limit: 5 });

  const logout = await one('{"jsonrpc":"2.0","id":5,"method":"users.logout"}');
  assert.deepEqual(logout.result, { ok: true });
  assert.equal(auth.calls('endSession')[0]?.headers.authorization, 'Bearer the-token');
  assert.deepEqual(gateway.bus, [{ kind: 'logout', tokenHash: hashToken('the-token') }], 'every gateway hears of the logout');
  assert.equal(connection.session, undefined, 'the bus’s logout took the user off the connection');
  assert.deepEqual(connection.pushed('session.ended'), [{ reason: 'logged out' }]);
  const after = await one('{"jsonrpc":"2.0","id":6,"method":"users.me"}');
  assert.equal(after.error?.data.code, 'UNAUTHENTICATED');
});

test('service errors keep their code and details; an unexpected failure is INTERNAL without its internals', async (t) => {
  const gateway = await inProcessGateway(t);
  const { persist, counter } = gateway.upstreams;
  persist.answer('createTopic', () => {
    throw createError({ code: 'CONFLICT', message: 'a topic with this name exists', details: { field: 'name' } });
  });
  persist.answer('listTopics', () => {
    throw createError({ code: 'UNAVAILABLE', message: 'persist is not answering' });
  });
  counter.answer('queryCounters', () => {
    throw new Error('socket hang up talking to 10.1.2.3:6001');
  });
  const { one } = frames(gateway, gateway.connect('ada'));

  const conflict = await one('{"jsonrpc":"2.0","id":1,"method":"topics.create","params":{"name":"news"}}');
  assert.deepEqual(conflict.error, { code: JSON_RPC_ERRORS.applicationError, message: 'a topic with this name exists', data: { code: 'CONFLICT', details: { field: 'name' } } });
  const unavailable = await one('{"jsonrpc":"2.0","id":2,"method":"topics.list"}');
  assert.equal(unavailable.error?.code, JSON_RPC_ERRORS.applicationError);
  assert.equal(unavailable.error?.data.code, 'UNAVAILABLE');

  const internal = await one('{"jsonrpc":"2.0","id":3,"method":"counters.get"}');
  assert.equal(internal.error?.code, JSON_RPC_ERRORS.applicationError);
  assert.equal(internal.error?.data.code, 'INTERNAL');
  assert.doesNotMatch(JSON.stringify(internal), /10\.1\.2\.3|socket hang up/, 'no internals reach the client');
  assert.ok(gateway.log.at('error').some((entry) => entry.message === 'RPC handler failed unexpectedly' && entry.fields.method === 'counters.get'), 'but they are logged');
});

test('a batch is answered item by item in order, notifications left out; past the in-flight limit an item is refused', async (t) => {
  const gateway = await inProcessGateway(t, { env: { MAX_INFLIGHT_PER_CONNECTION: '3' } });
  const held = gate();
  gateway.upstreams.counter.answer('queryCounters', async ({ body }) => {
    await held.wait();
    return { counters: Object.fromEntries(body.userIds.map((userId) => [userId, 2])) };
  });
  const connection = gateway.connect('ada');
  const { batch } = frames(gateway, connection);

  const answered = batch([
    { jsonrpc: '2.0', id: 'a', method: 'users.me' },
    { jsonrpc: '2.0', method: 'users.me' },
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
    5,
    { jsonrpc: '2.0', id: 'c', method: 'counters.get' },
    { jsonrpc: '2.0', id: 'd', method: 'counters.get' },
  ]);
  // a and the notification ran at once; c waits on counter; d is the fourth call in flight.
  await held.entered;
  held.open();
  const replies = await answered;
  assert.ok(replies);
  assert.deepEqual(
    replies.map((reply) => reply.id),
    ['a', 'b', null, 'c', 'd'],
  );
  assert.equal((replies[0]?.result as { id: string }).id, 'ada');
  assert.equal(replies[1]?.error?.code, JSON_RPC_ERRORS.methodNotFound);
  assert.equal(replies[2]?.error?.code, JSON_RPC_ERRORS.invalidRequest);
  assert.deepEqual(replies[3]?.result, { unread: 2 });
  assert.equal(replies[4]?.error?.data.code, 'RATE_LIMITED', JSON.stringify(replies[4]));
  assert.equal(connection.inflight, 0, 'every call is accounted for');
  // c and d were asked in one turn, but d was refused before it ran: one read, of one user.
  assert.deepEqual(gateway.upstreams.counter.calls('queryCounters').map((call) => call.body.userIds), [['ada']]);

  assert.equal(await batch([{ jsonrpc: '2.0', method: 'users.me' }, { jsonrpc: '2.0', method: 'nope' }]), undefined, 'notifications only: nothing to answer');
});
