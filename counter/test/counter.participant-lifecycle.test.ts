// counter as a two-phase-commit participant, through its HTTP routes against a real process:
// staged changes stay invisible until commit, decisions are idempotent and final, counts never go
// negative, and bad input changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { send, startCounter, unread } from './helper.ts';

type Vote = { vote: 'yes' | 'no'; request_id?: string; error?: { code: string; message: string } };

test('counter participates in two-phase commits correctly', async (t) => {
  // A 1 MiB body limit keeps the oversized case small: the server refuses it before reading it all.
  const { counter, databaseUrl } = await startCounter(t, { BODY_LIMIT_BYTES: '1048576' });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.after(() => db.end());
  const staged = async () => Number((await db.query('SELECT count(*) AS n FROM staged_changes')).rows[0].n);
  const prepare = (txId: string, action: string, payload: unknown, timeoutMs = 60_000) =>
    send<Vote>(counter, 'POST', '/api/prepare_2pc', { txId, action, payload, timeoutMs });
  const create = (txId: string, recipients: string[]) => prepare(txId, 'notification.create', { notificationId: `n-${txId}`, recipients });
  const ack = (txId: string, userId: string) => prepare(txId, 'notification.ack', { notificationId: 'n-1', userId });

  await t.test('prepare stages invisibly; commit makes every count visible; commit again is harmless', async () => {
    const vote = await create('tx-create-1', ['ada', 'bob']);
    assert.equal(vote.status, 200);
    assert.equal(vote.body.vote, 'yes');
    assert.ok(vote.body.request_id);
    assert.equal(await unread(counter, 'ada'), 0, 'invisible while prepared');
    assert.equal((await send<{ state: string }>(counter, 'GET', '/api/2pc/tx-create-1')).body.state, 'prepared');
    const again = await create('tx-create-1', ['ada', 'bob']);
    assert.deepEqual(again.body, vote.body, 'a repeated prepare answers as the first');
    const different = await create('tx-create-1', ['ada', 'bob', 'cy']);
    assert.equal(different.status, 409, 'the same txId with another payload is a conflict');
    assert.equal(different.body.vote, 'no');

    assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-create-1' })).status, 200);
    assert.deepEqual([await unread(counter, 'ada'), await unread(counter, 'bob')], [1, 1]);
    assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-create-1' })).status, 200);
    assert.deepEqual([await unread(counter, 'ada'), await unread(counter, 'bob')], [1, 1], 'a duplicate commit adds nothing');
    const rollbackAfterCommit = await send<{ error: { code: string } }>(counter, 'DELETE', '/api/rollback_2pc', { txId: 'tx-create-1' });
    assert.equal(rollbackAfterCommit.status, 409);
    assert.equal(rollbackAfterCommit.body.error.code, 'CONFLICT');
    assert.equal(await unread(counter, 'ada'), 1);
    assert.equal(await staged(), 0);
  });

  await t.test('prepare then rollback leaves nothing; rollback again is harmless; commit after it is 409', async () => {
    assert.equal((await create('tx-create-2', ['ada', 'cy'])).body.vote, 'yes');
    assert.equal(await staged(), 2);
    assert.equal((await send(counter, 'DELETE', '/api/rollback_2pc', { txId: 'tx-create-2' })).status, 200);
    assert.equal((await send(counter, 'DELETE', '/api/rollback_2pc', { txId: 'tx-create-2' })).status, 200);
    assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-create-2' })).status, 409);
    assert.deepEqual([await unread(counter, 'ada'), await unread(counter, 'cy')], [1, 0]);
    assert.equal(await staged(), 0);
    assert.equal((await send<{ state: string }>(counter, 'GET', '/api/2pc/tx-create-2')).body.state, 'aborted');
  });

  await t.test('rollback of an unknown transaction is acknowledged, and its late prepare votes no', async () => {
    assert.equal((await send(counter, 'DELETE', '/api/rollback_2pc', { txId: 'tx-never-seen' })).status, 200);
    const late = await create('tx-never-seen', ['ada']);
    assert.equal(late.status, 409);
    assert.equal(late.body.vote, 'no');
    assert.equal(await staged(), 0);
    assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-unknown' })).status, 404);
  });

  await t.test('two acks racing for the last unread: one yes, one no; the count never goes negative', async () => {
    assert.equal(await unread(counter, 'bob'), 1);
    const votes = await Promise.all([ack('tx-ack-a', 'bob'), ack('tx-ack-b', 'bob'), ack('tx-ack-c', 'bob')]);
    const yes = votes.filter((vote) => vote.body.vote === 'yes');
    assert.equal(yes.length, 1, JSON.stringify(votes.map((vote) => vote.body)));
    assert.ok(votes.filter((vote) => vote.body.vote === 'no').every((vote) => vote.status === 409 && vote.body.error?.code === 'CONFLICT'));
    const winner = ['tx-ack-a', 'tx-ack-b', 'tx-ack-c'][votes.indexOf(yes[0]!)]!;
    assert.equal(await unread(counter, 'bob'), 1, 'invisible until commit');
    assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: winner })).status, 200);
    assert.equal(await unread(counter, 'bob'), 0);
    assert.equal((await ack('tx-ack-d', 'bob')).body.vote, 'no', 'nothing left to acknowledge');
  });

  await t.test('malformed input is 400 and writes nothing', async () => {
    const before = Number((await db.query('SELECT count(*) AS n FROM two_phase_transactions')).rows[0].n);
    const cases: [string, string, unknown][] = [
      ['POST', '/api/prepare_2pc', { action: 'notification.create', payload: {}, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'has spaces', action: 'notification.create', payload: { notificationId: 'n', recipients: [] }, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-1', action: 'notification.explode', payload: {}, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-2', action: 'notification.create', payload: { notificationId: 'n', recipients: 'ada' }, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-3', action: 'notification.create', payload: { notificationId: 'n', recipients: ['a', 'a'] }, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-4', action: 'notification.create', payload: { notificationId: 'n', recipients: [] }, timeoutMs: -5 }],
      ['POST', '/api/prepare_2pc', '{"txId":'],
      ['POST', '/api/commit_2pc', {}],
      ['POST', '/api/commit_2pc', { txId: 42 }],
      ['DELETE', '/api/rollback_2pc', { txId: '' }],
      // Over the body limit (1 MiB here).
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-5', action: 'notification.create', payload: { notificationId: 'n', recipients: Array.from({ length: 30_000 }, (_, i) => `user-with-a-rather-long-identifier-${i}`) }, timeoutMs: 1000 }],
      ['POST', '/api/prepare_2pc', { txId: 'tx-bad-6', action: 'notification.create', payload: { notificationId: 'n', recipients: Array.from({ length: 100_001 }, (_, i) => `u${i}`) }, timeoutMs: 1000 }],
      ['GET', `/api/counters/${'x'.repeat(200)}`, undefined],
    ];
    for (const [method, path, body] of cases) {
      const response = await send<{ vote?: string; error: { code: string } }>(counter, method, path, body);
      assert.equal(response.status, 400, `${method} ${path} ${JSON.stringify(body)?.slice(0, 120)}`);
      assert.equal(response.body.error.code, 'INVALID_ARGUMENT');
      // A prepare whose body parses but does not fit the schema is a no vote, in the vote's shape.
      if (path === '/api/prepare_2pc' && typeof body === 'object' && JSON.stringify(body).length < 1_000_000) {
        assert.equal(response.body.vote, 'no', 'a malformed prepare is a no vote');
      }
    }
    const after = Number((await db.query('SELECT count(*) AS n FROM two_phase_transactions')).rows[0].n);
    assert.equal(after, before, 'no transaction recorded');
    assert.equal(await staged(), 0);
    assert.equal((await send(counter, 'GET', '/api/2pc/has%20spaces')).status, 400);
    assert.equal((await send(counter, 'GET', '/api/2pc/tx-nope')).status, 404);
  });

  await t.test('metrics count prepares, votes, commits and rollbacks', async () => {
    const text = await (await fetch(`${counter.url}/metrics`)).text();
    assert.match(text, /^twopc_participant_prepares_total\{action="notification.create",vote="yes",service="counter"\} [1-9]/m);
    assert.match(text, /^twopc_participant_prepares_total\{action="notification.ack",vote="no",service="counter"\} [1-9]/m);
    assert.match(text, /^twopc_participant_commits_total\{action="notification.create",service="counter"\} 1$/m);
    assert.match(text, /^twopc_participant_rollbacks_total\{action="notification.create",service="counter"\} 1$/m);
    assert.match(text, /^twopc_participant_in_doubt\{service="counter"\} 0$/m);
  });
});
