// A prepared transaction survives SIGKILL, and once past its timeout the participant asks the
// coordinator (found through discovery) and acts on its answer; no record means abort.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startFakeCoordinator } from '@notify/lib/testing';
import { createService } from '@notify/lib';
import { testConfig } from '../../lib/test/helper.ts';
import { send, startCounter, unread } from './helper.ts';

type State = { state: string };

async function stateBecomes(read: () => Promise<string>, expected: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (last !== expected) {
    assert.ok(Date.now() < deadline, `state stayed ${last}, expected ${expected}`);
    await sleep(50);
    last = await read();
  }
}

test('prepared transactions survive SIGKILL and are resolved with the coordinator after their timeout', async (t) => {
  const setup = await startCounter(t);
  const prepare = (txId: string, recipients: string[], timeoutMs: number) =>
    send<{ vote: string }>(setup.counter, 'POST', '/api/prepare_2pc', {
      txId,
      action: 'notification.create',
      payload: { notificationId: `n-${txId}`, recipients },
      timeoutMs,
    });
  const state = (txId: string) => async () => (await send<State>(setup.counter, 'GET', `/api/2pc/${txId}`)).body.state;

  // No coordinator registered yet: overdue transactions stay prepared (deciding alone could be wrong).
  assert.equal((await prepare('tx-commit', ['ada'], 300)).body.vote, 'yes');
  assert.equal((await prepare('tx-forgotten', ['bob'], 300)).body.vote, 'yes');
  assert.equal((await prepare('tx-pending', ['cy'], 300)).body.vote, 'yes');

  await setup.counter.stop('SIGKILL');
  const restarted = await setup.restart();
  for (const txId of ['tx-commit', 'tx-forgotten', 'tx-pending']) assert.equal(await state(txId)(), 'prepared', `${txId} survived the kill`);
  await sleep(600);
  assert.equal(await state('tx-commit')(), 'prepared', 'without a coordinator nothing is decided');

  // A "gateway" that lacks the route answers a bare 404: that is no answer, not "no record".
  const impostor = createService({ name: 'gateway', config: testConfig({ DISCOVERY_URL: setup.discovery.url, DISCOVERY_REGISTER: 'true', DRAIN_DELAY_MS: '0' }) });
  await impostor.listen();
  await sleep(800);
  assert.equal(await state('tx-forgotten')(), 'prepared', 'a bare 404 does not abort');
  await impostor.close();

  const coordinator = await startFakeCoordinator(t, setup.discovery.url);
  coordinator.decide('tx-commit', 'committed');
  coordinator.decide('tx-pending', 'pending');
  await stateBecomes(state('tx-commit'), 'committed');
  await stateBecomes(state('tx-forgotten'), 'aborted');
  assert.equal(await unread(restarted, 'ada'), 1, 'the committed change is applied');
  assert.equal(await unread(restarted, 'bob'), 0, 'the aborted one is not');
  await sleep(300);
  assert.equal(await state('tx-pending')(), 'prepared', 'a coordinator still deciding is asked again later');
  assert.ok(coordinator.asked('tx-pending') >= 2);
  coordinator.decide('tx-pending', 'aborted');
  await stateBecomes(state('tx-pending'), 'aborted');

  const metrics = await (await fetch(`${restarted.url}/metrics`)).text();
  assert.match(metrics, /^twopc_participant_resolved_total\{outcome="committed",service="counter"\} 1$/m);
  assert.match(metrics, /^twopc_participant_resolved_total\{outcome="aborted",service="counter"\} 2$/m);
  assert.match(metrics, /^twopc_participant_in_doubt\{service="counter"\} 0$/m);
});
