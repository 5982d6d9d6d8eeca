// A client that stops reading is cut off once MAX_UNREAD_BYTES of its pushes pile up, on both
// transports (socket.io held 88 MB for a stalled reader before), while a subscriber who reads gets
// every notification.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { jsonRpcClient, metric, register, socketIoClient, startSystem } from './helper.ts';

const MAX_UNREAD_BYTES = 64 * 1024;
/** Enough to fill the loopback socket buffers of both stalled connections many times over, at most. */
const MAX_PUBLISHES = 3_000;

test('a stalled reader is cut off past MAX_UNREAD_BYTES on both transports; a reading subscriber gets everything', { timeout: 600_000 }, async (t) => {
  const system = await startSystem(t, { gatewayEnv: { MAX_UNREAD_BYTES: String(MAX_UNREAD_BYTES) } });
  const gateway = system.gateways[0]!;
  const publisher = await jsonRpcClient(gateway, undefined, t);
  await register(publisher, 'publisher');
  const topic = await publisher.call('topics.create', { name: `firehose-${Date.now()}` });
  const reader = await jsonRpcClient(gateway, undefined, t);
  await register(reader, 'reader');
  await reader.call('topics.subscribe', { topicId: topic.id });
  const setup = await jsonRpcClient(gateway, undefined, t);
  const stalled = await register(setup, 'stalled');
  await setup.call('topics.subscribe', { topicId: topic.id });
  await setup.close();

  // The stalled user's two connections stop reading their sockets.
  const rpc = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws?token=${encodeURIComponent(stalled.token)}`);
  await once(rpc, 'open');
  t.after(() => rpc.terminate());
  const io = await socketIoClient(gateway, stalled.token, t);
  const ioWs = (io.socket.io.engine.transport as unknown as { ws: WebSocket }).ws;
  // Both logged in (users.me over the not yet paused connections) before they stall.
  assert.equal(((await io.call('users.me')) as { id: string }).id, stalled.id);
  rpc.pause();
  ioWs.pause();

  const cut = async (transport: string) => (await metric(gateway, 'gateway_slow_readers_cut_total', { transport })) ?? 0;
  const body = 'x'.repeat(10_000);
  let published = 0;
  while ((await cut('jsonrpc')) < 1 || (await cut('socket.io')) < 1) {
    assert.ok(published < MAX_PUBLISHES, `no stalled connection cut after ${published} notifications of 10 KB (jsonrpc ${await cut('jsonrpc')}, socket.io ${await cut('socket.io')})`);
    await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.call('notifications.publish', { topicId: topic.id, title: `n${published + i}`, body })));
    published += 20;
  }
  t.diagnostic(`both stalled connections cut after ${published} notifications of 10 KB`);
  assert.equal(await metric(gateway, 'gateway_connections', { transport: 'socket.io' }), 0, 'the stalled socket.io connection is gone');

  // The subscriber who reads received every one.
  await reader.next('notification', (data) => data.title === `n${published - 1}`, 120_000);
  const titles = new Set(reader.pushes.filter((push) => push.event === 'notification').map((push) => (push.data as { title: string }).title));
  assert.equal(titles.size, published, 'the reading subscriber got every notification');
});
