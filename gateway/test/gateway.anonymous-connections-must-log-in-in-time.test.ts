// A connection without a user holds gateway memory for nobody: it has AUTH_DEADLINE_MS to log in
// (or to connect with a token), on both transports; one that logs in, or came with a token, stays.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

const DEADLINE_MS = 2_000;

test('anonymous connections are closed after AUTH_DEADLINE_MS; logged-in ones stay', { timeout: 180_000 }, async (t) => {
  const system = await startSystem(t, { gatewayEnv: { AUTH_DEADLINE_MS: String(DEADLINE_MS) } });
  const gateway = system.gateways[0]!;
  const owner = await jsonRpcClient(gateway, undefined, t);
  const user = await register(owner, 'patient');

  const connectedAt = Date.now();
  const idleRpc = await jsonRpcClient(gateway, undefined, t);
  const rpcClosed = once(idleRpc.socket, 'close') as Promise<[number, Buffer]>;
  const idleIo = await socketIoClient(gateway, undefined, t);
  const ioClosed = new Promise<string>((resolve) => idleIo.socket.once('disconnect', resolve));
  // Connected at the same moment: one with a token, one that logs in after connecting.
  const withToken = await jsonRpcClient(gateway, user.token, t);
  const loggingIn = await socketIoClient(gateway, undefined, t);
  await loggingIn.call('users.login', { email: user.email, password: 'correct horse battery' });

  const [code, reason] = await rpcClosed;
  assert.equal(code, 4408);
  assert.match(String(reason), /log in within 2 s/);
  assert.ok(Date.now() - connectedAt >= DEADLINE_MS - 100, 'not before the deadline');
  const ioReason = await ioClosed;
  assert.equal(ioReason, 'io server disconnect');
  assert.ok(idleIo.pushes.some((push) => push.event === 'rpc.error' && JSON.stringify(push.data).includes('log in within')), 'socket.io is told why');

  // Well past the deadline, the logged-in ones still answer.
  await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS));
  assert.equal((await withToken.call('users.me')).id, user.id);
  assert.equal((await loggingIn.call('users.me')).id, user.id);
  assert.equal(loggingIn.socket.connected, true);
});
