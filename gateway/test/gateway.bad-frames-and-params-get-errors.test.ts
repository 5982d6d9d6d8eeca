// Bad input never crashes the gateway or kills a connection (short of an oversized frame): every
// malformed frame, unknown method, wrong or missing params and unauthenticated call gets a clear
// error, nothing changes, and the same connection goes on working.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { JSON_RPC_ERRORS } from '@notify/lib/rpc';
import { failure, jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

interface Reply {
  id: unknown;
  error?: { code: number; message: string; data: { code: string; details?: { issues?: { path: string }[] } } };
  result?: unknown;
}

test('malformed frames and params get errors over JSON-RPC; the connection lives on', async (t) => {
  const system = await startSystem(t, { gatewayEnv: { MAX_FRAME_BYTES: '65536', MAX_INFLIGHT_PER_CONNECTION: '3', MAX_INFLIGHT_PER_USER: '2' } });
  const [gateway] = system.gateways;
  const client = await jsonRpcClient(gateway!, undefined, t);
  const replyTo = async (raw: string) => {
    const before = client.replies.length;
    client.send(raw);
    while (client.replies.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
    return client.replies[before] as Reply | Reply[];
  };
  const expect = async (raw: string, rpcCode: number, code: string) => {
    const reply = (await replyTo(raw)) as Reply;
    assert.equal(reply.error?.code, rpcCode, `${raw.slice(0, 60)} → ${JSON.stringify(reply)}`);
    assert.equal(reply.error?.data.code, code);
    return reply;
  };

  // Not JSON, not an object, not JSON-RPC.
  await expect('{"jsonrpc":"2.0","id":1,', JSON_RPC_ERRORS.parseError, 'INVALID_ARGUMENT');
  await expect('42', JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT');
  await expect('[]', JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT');
  assert.equal(((await expect('{"jsonrpc":"1.0","id":7,"method":"users.me"}', JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT')) as Reply).id, 7);
  await expect('{"jsonrpc":"2.0","id":{"a":1},"method":"users.me"}', JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT');
  await expect('{"jsonrpc":"2.0","id":2,"method":42}', JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT');
  await expect('{"jsonrpc":"2.0","id":3,"method":"topics.nuke"}', JSON_RPC_ERRORS.methodNotFound, 'NOT_FOUND');
  await expect('{"jsonrpc":"2.0","id":3,"method":"__proto__"}', JSON_RPC_ERRORS.methodNotFound, 'NOT_FOUND');
  // Everything but register and login needs a user.
  await expect('{"jsonrpc":"2.0","id":4,"method":"topics.list","params":{}}', JSON_RPC_ERRORS.applicationError, 'UNAUTHENTICATED');
  // Params: missing, wrong types, unknown keys, positional, oversized values.
  await expect('{"jsonrpc":"2.0","id":5,"method":"users.register","params":{"email":"x@example.test"}}', JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');
  await expect('{"jsonrpc":"2.0","id":5,"method":"users.register","params":["a","b","c"]}', JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');
  await expect('{"jsonrpc":"2.0","id":5,"method":"users.login","params":{"email":1,"password":true}}', JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');
  // params that is neither an object nor an array makes the request invalid (JSON-RPC 2.0 §4.2).
  for (const params of ['"x"', '5', 'true', 'null']) {
    await expect(`{"jsonrpc":"2.0","id":13,"method":"users.login","params":${params}}`, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT');
  }

  const me = await register(client, 'mallory');
  const topic = await client.call('topics.create', { name: `bad-input-${Date.now()}` });
  const invalid = (await expect(
    JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'notifications.publish', params: { topicId: 'not-a-uuid', title: '', body: 5, extra: true } }),
    JSON_RPC_ERRORS.invalidParams,
    'INVALID_ARGUMENT',
  )) as Reply;
  assert.deepEqual(new Set(invalid.error!.data.details!.issues!.map((issue) => issue.path)), new Set(['topicId', 'title', 'body', '']));
  await expect(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'topics.create', params: { name: 'x'.repeat(101) } }), JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');
  await expect(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'topics.list', params: { limit: 1_000 } }), JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');
  await expect(JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'topics.delete', params: { topicId: '00000000-0000-4000-8000-000000000000' } }), JSON_RPC_ERRORS.applicationError, 'NOT_FOUND');
  await expect(JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'topics.create', params: { name: topic.name } }), JSON_RPC_ERRORS.applicationError, 'CONFLICT');
  await expect(JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'notifications.publish', params: { topicId: topic.id, title: 't', body: '', to: [] } }), JSON_RPC_ERRORS.invalidParams, 'INVALID_ARGUMENT');

  // A batch answers each request in it; a notification (no id) gets no answer; too many in flight is refused.
  const batch = (await replyTo(
    JSON.stringify([
      { jsonrpc: '2.0', id: 'a', method: 'users.me' },
      { jsonrpc: '2.0', method: 'users.me' },
      { jsonrpc: '2.0', id: 'b', method: 'nope' },
      { jsonrpc: '2.0', id: 'c', method: 'counters.get' },
      { jsonrpc: '2.0', id: 'd', method: 'counters.get' },
    ]),
  )) as Reply[];
  assert.deepEqual(batch.map((reply) => reply.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual((batch[0]!.result as { id: string }).id, me.id);
  assert.equal(batch[1]!.error?.code, JSON_RPC_ERRORS.methodNotFound);
  // a, the notification and c are in flight (b, an unknown method, is refused at once and holds no
  // place): d, a fourth, is refused.
  assert.deepEqual(batch.map((reply) => reply.error?.data.code ?? 'ok'), ['ok', 'NOT_FOUND', 'ok', 'RATE_LIMITED'], 'calls beyond 3 in flight are refused');

  // One user's calls share one budget across connections (MAX_INFLIGHT_PER_USER 2): a third at once
  // on a second connection waits its turn instead of being refused, and another user's calls go through.
  const batchOf = async (on: Awaited<ReturnType<typeof jsonRpcClient>>, calls: number) => {
    const before = on.replies.length;
    on.send(JSON.stringify(Array.from({ length: calls }, (_, i) => ({ jsonrpc: '2.0', id: `n${i}`, method: 'counters.get' }))));
    while (!on.replies.slice(before).some(Array.isArray)) await new Promise((resolve) => setTimeout(resolve, 5));
    return on.replies.slice(before).find(Array.isArray) as Reply[];
  };
  const second = await jsonRpcClient(gateway!, me.token, t);
  const shared = await batchOf(second, 3);
  assert.deepEqual(shared.map((reply) => reply.error?.data.code ?? 'ok'), ['ok', 'ok', 'ok']);
  const other = await jsonRpcClient(gateway!, undefined, t);
  await register(other, 'trudy');
  assert.deepEqual((await batchOf(other, 2)).map((reply) => reply.error?.data.code ?? 'ok'), ['ok', 'ok'], 'another user is not limited by the first');

  // Binary frames are refused with an error, not a crash.
  const binaryReply = once(client.socket, 'message');
  client.socket.send(Buffer.from([1, 2, 3]));
  assert.equal((JSON.parse(String((await binaryReply)[0])) as Reply).error?.code, JSON_RPC_ERRORS.invalidRequest);

  // Nothing changed: one topic, and the connection still works.
  assert.deepEqual((await client.call('topics.list', { mine: true })).topics.map((x) => x.id), [topic.id]);

  // A frame over MAX_FRAME_BYTES closes that connection (1009) and only that one.
  const victim = await jsonRpcClient(gateway!, me.token, t);
  victim.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'topics.create', params: { name: 'x'.repeat(70_000) } }));
  const [code] = (await once(victim.socket, 'close')) as [number];
  assert.equal(code, 1009);
  assert.equal((await client.call('users.me')).id, me.id);
  const health = await fetch(`${gateway!.url}/health`);
  assert.equal(health.status, 200);
});

test('socket.io: unknown methods and bad params get an error ack; calls without an ack get an rpc.error event', async (t) => {
  const system = await startSystem(t);
  const [gateway] = system.gateways;
  const client = await socketIoClient(gateway!, undefined, t);
  assert.equal((await failure(client.call('users.me'))).error.code, 'UNAUTHENTICATED');
  await register(client, 'eve');
  assert.equal((await failure(client.call('topics.nuke' as 'users.me'))).error.code, 'NOT_FOUND');
  const bad = await failure(client.call('topics.subscribe', { topicId: 12 as unknown as string }));
  assert.equal(bad.error.code, 'INVALID_ARGUMENT');
  assert.match(bad.error.message, /topicId/);
  assert.equal((await failure(client.call('topics.subscribe', { topicId: '00000000-0000-4000-8000-000000000000' }))).error.code, 'NOT_FOUND');
  client.socket.emit('topics.create', { name: 5 });
  const event = await client.next('rpc.error' as 'counter');
  assert.deepEqual((event as unknown as { method: string; error: { code: string } }).method, 'topics.create');
  assert.equal((event as unknown as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
  // A handshake token of the wrong type is refused with a contract error.
  await assert.rejects(socketIoClient(gateway!, 42 as unknown as string), (error: Error & { data?: { code: string } }) => error.data?.code === 'UNAUTHENTICATED');
  assert.equal((await client.call('topics.list')).topics.length, 0);
});
