// Transactions as definitions: a definition names each participant once, a coordinator takes each
// name once and no two definitions with the same participants and actions (log rows from before
// names were kept are matched by those), and it runs only the definitions it was given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { counterActions, persistActions } from '../src/contracts/index.ts';
import { Coordinator, type CoordinatorOptions } from '../src/two-phase/coordinator.ts';
import { defineTransaction } from '../src/two-phase/transaction.ts';

const publication = () => defineTransaction('notification.publish', { branches: [persistActions.notificationCreate, counterActions.notificationCreate] });

function coordinator(transactions: CoordinatorOptions['transactions']) {
  const unused = () => Promise.reject(new Error('no database in this test'));
  return new Coordinator({
    db: { $queryRawUnsafe: unused, $executeRawUnsafe: unused },
    owner: () => 'test',
    participant: () => assert.fail('no participant is called'),
    log: pino({ level: 'silent' }),
    metrics: new Registry(),
    prepareTimeoutMs: 1_000,
    decisionTimeoutMs: 1_000,
    retryMaxMs: 100,
    transactions,
  });
}

test('a definition names each participant once', () => {
  assert.throws(() => defineTransaction('twice', { branches: [persistActions.notificationCreate, persistActions.notificationAck] }), /names a participant twice/);
  assert.throws(() => defineTransaction('none', { branches: [] }), /at least one branch/);
});

test('a coordinator refuses two definitions of one name, or of the same participants and actions', () => {
  assert.throws(() => coordinator([publication(), publication()]), /two transactions are named notification\.publish/);
  const lookalike = defineTransaction('notification.publish.v2', { branches: [persistActions.notificationCreate, counterActions.notificationCreate] });
  assert.throws(() => coordinator([publication(), lookalike]), /have the same participants and actions/);
  const ack = defineTransaction('notification.ack', { branches: [persistActions.notificationAck, counterActions.notificationAck] });
  assert.doesNotThrow(() => coordinator([publication(), ack]));
});

test('a coordinator runs only the definitions it was given, so recovery can always find them', async () => {
  const given = publication();
  const running = coordinator([given]);
  const stranger = publication();
  const payloads = { persist: { notificationId: 'n', topicId: 't', publisherId: 'p', title: 't', body: 'b', recipients: [] }, counter: { notificationId: 'n', recipients: [] } };
  await assert.rejects(running.run(stranger, payloads), /not one this coordinator was given/);
});
