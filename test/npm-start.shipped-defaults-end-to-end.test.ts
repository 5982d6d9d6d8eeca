// The configuration a new user actually runs, proven end to end: `npm start` exactly as the README
// says (default ports, no PORT_OFFSET), then over both transports two users register, one creates
// a topic, the other subscribes, a publish with email reaches the subscriber as `notification` and
// `counter` pushes, the ack lowers the count, the trace tells the story, the welcome and the
// notification emails arrive on the mail page, an avatar comes through the gateway; Ctrl-C then
// leaves no process and no listening port.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { request } from 'undici';
import { jsonRpcClient, register, socketIoClient } from '../gateway/test/helper.ts';
import { loadConfig } from '../lib/src/config.ts';
import { launcherConfigSchema } from '../scripts/launcher/config.ts';
import { holderOf, plannedPorts, takenPorts } from '../scripts/launcher/ports.ts';
import { prometheusInstalled } from '../scripts/launcher/prometheus.ts';
import { planSystem } from '../lib/src/testing/start-system.ts';
import { TOPOLOGY } from '../lib/src/testing/topology.ts';
import { eventually, getJson, gone, npmStart } from './npm-start-helper.ts';

/** Every port `npm start` uses on its defaults (Prometheus's when it is installed, as the launcher runs it then). */
const DEFAULT_PORTS = plannedPorts(loadConfig(launcherConfigSchema, {}), prometheusInstalled());
const GATEWAY = { port: 4000 };
const MAIL_PAGE = 'http://127.0.0.1:8025';

test('npm start on the shipped defaults: a publish through the gateway reaches the subscriber on both transports, both emails arrive, Ctrl-C leaves nothing', async (t) => {
  // A taken default port fails this test (it does not skip): the defaults are what users run.
  const taken = await takenPorts('127.0.0.1', DEFAULT_PORTS);
  assert.deepEqual(taken, [], `the default ports must be free for this test:\n${taken.join('\n')}`);

  const { npm, output, postgresPid } = await npmStart(t, { offset: 0 });
  assert.match(output(), /gateway-1 +http:\/\/127\.0\.0\.1:4000 /);
  assert.match(output(), /persist-1 +http:\/\/127\.0\.0\.1:6000 /);

  // Alice over socket.io, Bob over JSON-RPC on /ws, both registering on their connection.
  const alice = await socketIoClient(GATEWAY, undefined, t);
  const a = await register(alice, 'alice');
  const bob = await jsonRpcClient(GATEWAY, undefined, t);
  const b = await register(bob, 'bob');
  // Bob's second connection, socket.io with his token in the handshake: pushes reach both.
  const bobIo = await socketIoClient(GATEWAY, b.token, t);

  const topic = await alice.call('topics.create', { name: `deploys-${Date.now()}`, description: 'what shipped' });
  assert.equal((await bob.call('topics.subscribe', { topicId: topic.id })).topicId, topic.id, 'subscribed through persist on port 6000');
  const published = await alice.call('notifications.publish', { topicId: topic.id, title: 'v2 is live', body: 'notes inside', email: true });
  assert.deepEqual(published.recipients, [b.id]);
  for (const connection of [bob, bobIo]) {
    assert.equal((await connection.next('notification', (n) => n.id === published.notification.id, 30_000)).title, 'v2 is live');
    await connection.next('counter', (c) => c.unread === 1, 30_000);
  }
  assert.deepEqual(await bobIo.call('notifications.ack', { notificationId: published.notification.id }), { ok: true, unread: 0 });
  for (const connection of [bob, bobIo]) await connection.next('counter', (c) => c.unread === 0, 30_000);

  // The trace: the whole lifecycle, the email included once the mailer sent it.
  const events = await eventually('the trace with its email', async () => {
    const types = (await alice.call('notifications.trace', { notificationId: published.notification.id })).events.map((event) => event.type);
    return types.includes('emailed') && types.includes('delivered') ? types : undefined;
  });
  for (const type of ['prepared', 'committed', 'delivered', 'emailed', 'acked'] as const) assert.ok(events.includes(type), `${type} in ${events.join(', ')}`);

  // Both emails on the mail page's JSON: welcomes to both, the notification to Bob.
  const mail = await eventually('three emails on the mail page', async () => {
    const { messages } = await getJson<{ messages: { to: string[]; subject: string }[] }>(`${MAIL_PAGE}/api/messages`);
    const to = (email: string) => messages.filter((message) => message.to.includes(email));
    return to(a.email).length >= 1 && to(b.email).length >= 2 ? messages : undefined;
  });
  assert.equal(mail.filter((message) => message.to.includes(a.email)).length, 1, 'one welcome to alice');
  assert.ok(mail.some((message) => message.to.includes(b.email) && message.subject.includes('v2 is live')), 'the notification email to bob');

  // An avatar through the gateway's proxy to the avatar service.
  const avatar = await request(`http://127.0.0.1:4000/avatars/${a.id}.png?size=64`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(avatar.statusCode, 200);
  assert.equal(avatar.headers['content-type'], 'image/png');
  assert.deepEqual([...(await avatar.body.bytes()).subarray(1, 4)], [...Buffer.from('PNG')]);

  for (const client of [alice, bob, bobIo]) await client.close();
  // Every process listening on a default port now, to check each is gone after Ctrl-C.
  const pids = DEFAULT_PORTS.map(({ port }) => Number(/^pid (\d+)/.exec(holderOf(port) ?? '')?.[1])).filter((pid) => pid > 0);
  // One holder per instance at least, discovery aside.
  assert.ok(pids.length >= planSystem(TOPOLOGY).length - 1, `the holders of the default ports are known (${pids.length})`);
  process.kill(-npm.pid!, 'SIGINT'); // what a terminal's Ctrl-C does
  const [code, signal] = await once(npm, 'exit');
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${signal ?? code}:\n${output()}`);
  assert.match(output(), /all stopped/);
  assert.doesNotMatch(output(), /!! \S+ died/, 'no instance died');
  for (const pid of [...pids, postgresPid]) assert.ok(await gone(pid, 10_000), `process ${pid} is gone`);
  assert.deepEqual(await takenPorts('127.0.0.1', DEFAULT_PORTS), [], 'no default port is still listening');
});
