// `npm start` supervises: kill -9 of any one instance (each kind in turn: persist, counter, auth,
// a mailer node, avatar, the gateway, discovery) is survived. The launcher says so, starts it
// again, says when it is back; the restarted instance shows the restart on /status; and after each
// return a publish through the gateway reaches a subscriber again. Run inside npm-start.test.ts,
// on the system its first test starts (one system fewer on a busy test machine).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { register, socketIoClient } from '../gateway/test/helper.ts';
import { planSystem } from '../lib/src/testing/start-system.ts';
import { TOPOLOGY } from '../lib/src/testing/topology.ts';
import { eventually, getJson, gone, type NpmStart } from './npm-start-helper.ts';

export const VICTIMS = ['persist-1', 'counter-2', 'auth-1', 'mailer-3', 'avatar-1', 'gateway-1', 'discovery-1'];

/** Kills each of VICTIMS in turn with SIGKILL and checks it comes back and the system answers again. */
export async function everyKindSurvivesKill9(t: TestContext, { output, offset }: Pick<NpmStart, 'output' | 'offset'>): Promise<void> {
  const portOf = (id: string) => planSystem(TOPOLOGY, { portOffset: offset }).find((instance) => instance.id === id)!.port;
  const gateway = { port: 4000 + offset };

  // A publisher and a subscriber, connected again whenever a check needs them (the gateway dies too).
  type Connection = Awaited<ReturnType<typeof socketIoClient>>;
  let alice: Connection = await socketIoClient(gateway, undefined, t);
  let bob: Connection = await socketIoClient(gateway, undefined, t);
  const a = await register(alice, 'alice');
  const b = await register(bob, 'bob');
  const topic = await alice.call('topics.create', { name: `supervised-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });

  /** One publish through the gateway that reaches bob; retried (new connections) until the system answers. */
  const publishReaches = (title: string) =>
    eventually(
      `a publish (${title}) reaching the subscriber`,
      async () => {
        try {
          if (!alice.socket.connected) alice = await socketIoClient(gateway, a.token, t);
          if (!bob.socket.connected) bob = await socketIoClient(gateway, b.token, t);
          // A call on a connection that dies meanwhile gets no answer: 10 s, then try again.
          const published = await Promise.race([
            alice.call('notifications.publish', { topicId: topic.id, title, body: '' }),
            sleep(10_000).then(() => Promise.reject(new Error('no answer'))),
          ]);
          await bob.next('notification', (n) => n.id === published.notification.id, 10_000);
          return true;
        } catch {
          return undefined;
        }
      },
      90_000,
    );
  await publishReaches('before any kill');

  for (const [i, victim] of VICTIMS.entries()) {
    const { pid } = await getJson<{ pid: number }>(`http://127.0.0.1:${portOf(victim)}/status`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    assert.ok(await gone(pid, 10_000), `${victim} died`);
    await eventually(`the launcher reports ${victim} back`, async () => (new RegExp(`${victim} is back \\(pid \\d+\\)`).test(output()) ? true : undefined), 90_000);
    assert.match(output(), new RegExp(`!! ${victim} died \\(SIGKILL\\); restarting it in`));
    const status = await getJson<{ pid: number; restarts: number }>(`http://127.0.0.1:${portOf(victim)}/status`);
    assert.notEqual(status.pid, pid, `${victim} is a new process`);
    assert.equal(status.restarts, 1, `${victim}'s /status shows its restart`);
    await publishReaches(`after ${victim}`);
    t.diagnostic(`${victim}: back and a publish delivered ${((Date.now() - killedAt) / 1000).toFixed(1)} s after SIGKILL`);
    assert.ok(!output().includes('giving up'), `the launcher went on after ${i + 1} kill(s)`);
  }
}
