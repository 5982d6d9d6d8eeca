// counter's notification.read_all against a real process: it takes off exactly its count in one
// staged change, invisible until commit; it never takes a count below zero, counting the
// decrements acknowledgements have staged; a rollback gives nothing back twice; bad counts change nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { send, startCounter, unread } from './helper.ts';

type Vote = { vote: 'yes' | 'no'; error?: { code: string } };

test('marking all read takes off exactly its count, never below zero', async (t) => {
  const { counter, databaseUrl } = await startCounter(t);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.after(() => db.end());
  const prepare = (txId: string, action: string, payload: unknown) => send<Vote>(counter, 'POST', '/api/prepare_2pc', { txId, action, payload, timeoutMs: 60_000 });
  const commit = (txId: string) => send(counter, 'POST', '/api/commit_2pc', { txId });
  const rollback = (txId: string) => send(counter, 'DELETE', '/api/rollback_2pc', { txId });

  const recipients = ['ada'];
  for (let i = 0; i < 5; i += 1) {
    assert.equal((await prepare(`create-${i}`, 'notification.create', { notificationId: `n-${i}`, recipients })).body.vote, 'yes');
    assert.equal((await commit(`create-${i}`)).status, 200);
  }
  assert.equal(await unread(counter, 'ada'), 5);

  // An acknowledgement staged (-1) leaves 4 that marking all read may take.
  assert.equal((await prepare('ack-1', 'notification.ack', { notificationId: 'n-0', userId: 'ada' })).body.vote, 'yes');
  const tooMany = await prepare('read-all-1', 'notification.read_all', { userId: 'ada', count: 5 });
  assert.deepEqual([tooMany.status, tooMany.body.vote, tooMany.body.error?.code], [409, 'no', 'CONFLICT']);
  const fits = await prepare('read-all-2', 'notification.read_all', { userId: 'ada', count: 4 });
  assert.equal(fits.body.vote, 'yes');
  assert.deepEqual((await db.query(`SELECT delta FROM staged_changes WHERE tx_id = 'read-all-2'`)).rows, [{ delta: -4 }], 'one staged change of -4');
  assert.equal(await unread(counter, 'ada'), 5, 'invisible until commit');
  assert.equal((await prepare('ack-2', 'notification.ack', { notificationId: 'n-1', userId: 'ada' })).status, 409, 'nothing is left for another acknowledgement');

  assert.equal((await rollback('read-all-2')).status, 200);
  assert.equal((await rollback('read-all-2')).status, 200);
  assert.equal(await unread(counter, 'ada'), 5, 'a rollback takes nothing off');
  assert.equal((await prepare('read-all-3', 'notification.read_all', { userId: 'ada', count: 4 })).body.vote, 'yes');
  assert.equal((await commit('read-all-3')).status, 200);
  assert.equal((await commit('read-all-3')).status, 200);
  assert.equal(await unread(counter, 'ada'), 1, 'exactly 4 taken off, once');
  assert.equal((await commit('ack-1')).status, 200);
  assert.equal(await unread(counter, 'ada'), 0);

  for (const [i, payload] of [{ userId: 'ada', count: 0 }, { userId: 'ada', count: 1.5 }, { userId: 'ada' }, { userId: '', count: 1 }, { userId: 'ada', count: 1, extra: true }].entries()) {
    const refused = await prepare(`bad-${i}`, 'notification.read_all', payload);
    assert.equal(refused.status, 400, JSON.stringify(payload));
  }
  assert.equal((await prepare('read-all-4', 'notification.read_all', { userId: 'nobody', count: 1 })).status, 409, 'a user never counted has nothing to take off');
  assert.equal(Number((await db.query('SELECT count(*) AS n FROM staged_changes')).rows[0].n), 0);
});
