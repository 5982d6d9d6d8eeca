// One address, or one user, cannot take every connection of a gateway: MAX_CONNECTIONS_PER_ADDRESS
// and MAX_CONNECTIONS_PER_USER refuse the one past the limit, on both transports, with
// RATE_LIMITED; another address is not affected; a connection closed frees its place.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { failure, jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

const PER_ADDRESS = 5;
const PER_USER = 2;

/** A raw JSON-RPC socket's fate: the close code and reason, or 'open' if it stays open for a while. */
async function closeOf(url: string, localAddress?: string): Promise<{ code: number; reason: string } | { open: WebSocket }> {
  const socket = new WebSocket(url, localAddress ? { localAddress } : {});
  const closed = once(socket, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  await Promise.race([once(socket, 'open'), closed]);
  // A refused socket is closed right after the handshake; give the close a moment to arrive.
  const outcome = await Promise.race([closed, sleep(1_000).then(() => undefined)]);
  return outcome ?? { open: socket };
}

/** A socket.io connection's refusal (its connect_error data). */
async function socketIoRefusal(port: number, token?: string): Promise<{ code: string; message: string }> {
  try {
    const client = await socketIoClient({ port }, token);
    await client.close();
  } catch (error) {
    return (error as { data: { code: string; message: string } }).data;
  }
  throw new Error('socket.io connected; a refusal was expected');
}

test('connections past MAX_CONNECTIONS_PER_USER and MAX_CONNECTIONS_PER_ADDRESS are refused with RATE_LIMITED', { timeout: 180_000 }, async (t) => {
  const system = await startSystem(t, { gatewayEnv: { MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS), MAX_CONNECTIONS_PER_USER: String(PER_USER) } });
  const gateway = system.gateways[0]!;
  const ws = `ws://127.0.0.1:${gateway.port}/ws`;

  // Per user: alice holds two connections; a third login, token or handshake is refused.
  const first = await jsonRpcClient(gateway, undefined, t);
  const alice = await register(first, 'alice');
  await socketIoClient(gateway, alice.token, t);
  const third = await jsonRpcClient(gateway, undefined, t);
  const refusedLogin = await failure(third.call('users.login', { email: alice.email, password: 'correct horse battery' }));
  assert.equal(refusedLogin.error.code, 'RATE_LIMITED');
  assert.deepEqual(refusedLogin.error.details, { retryAfterSeconds: 1, reason: 'connections_per_user' });
  assert.equal((await failure(third.call('users.me'))).error.code, 'UNAUTHENTICATED', 'the refused login gave the connection no user');
  const withToken = await closeOf(`${ws}?token=${encodeURIComponent(alice.token)}`);
  assert.ok('code' in withToken, 'a JSON-RPC handshake token past the limit closes the socket');
  assert.equal(withToken.code, 4429);
  assert.match(withToken.reason, /^RATE_LIMITED: at most 2 connections per user/);
  assert.equal((await socketIoRefusal(gateway.port, alice.token)).code, 'RATE_LIMITED');

  // Per address: first, alice's socket.io and third hold three; two more fit, the sixth does not.
  const fourth = await jsonRpcClient(gateway, undefined, t);
  await jsonRpcClient(gateway, undefined, t);
  let sixth: Awaited<ReturnType<typeof closeOf>> | undefined;
  // The refused token socket above may still be leaving: wait until the count settles at five.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    sixth = await closeOf(ws);
    if ('code' in sixth) break;
    sixth.open.close();
    await sleep(100);
  }
  assert.ok(sixth && 'code' in sixth, 'the sixth connection from one address is refused');
  assert.equal(sixth.code, 4429);
  assert.match(sixth.reason, /too many connections from this address/);
  const refusedIo = await socketIoRefusal(gateway.port);
  assert.deepEqual([refusedIo.code, refusedIo.message], ['RATE_LIMITED', 'too many connections from this address; close one first']);

  // Another address is not affected: it connects and registers.
  const elsewhere = await closeOf(ws, '127.0.0.2');
  assert.ok('open' in elsewhere, 'a connection from 127.0.0.2 stays open');
  elsewhere.open.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'users.register', params: { email: `bob-${Date.now()}@example.test`, password: 'correct horse battery', name: 'bob' } }));
  const [answer] = (await once(elsewhere.open, 'message')) as [Buffer];
  assert.ok((JSON.parse(String(answer)) as { result?: { token?: string } }).result?.token, 'bob registered from another address');
  elsewhere.open.close();

  // A closed connection frees its place: alice's first goes, and third may log in as alice.
  await first.close();
  await fourth.close();
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    const login = await third.call('users.login', { email: alice.email, password: 'correct horse battery' }).then(() => undefined, (error: unknown) => error);
    if (login === undefined) break;
    assert.ok(Date.now() < deadline, `alice could not log in after closing a connection: ${String(login)}`);
  }
  assert.equal((await third.call('users.me')).id, alice.id);
});
