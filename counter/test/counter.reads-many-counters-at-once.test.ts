// POST /api/counters/query: many users' unread counts in one request, committed changes only,
// 0 for users never counted; malformed or oversized requests are 400.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send, startCounter, unread } from './helper.ts';

type Counters = { counters: Record<string, number> };
type ErrorBody = { error: { code: string } };

test('counts of many users at once, as GET /api/counters/:userId answers them one by one', async (t) => {
  const { counter } = await startCounter(t);
  const prepare = (txId: string, recipients: string[]) =>
    send<{ vote: string }>(counter, 'POST', '/api/prepare_2pc', { txId, action: 'notification.create', payload: { notificationId: `n-${txId}`, recipients }, timeoutMs: 60_000 });
  const query = (userIds: unknown) => send<Counters>(counter, 'POST', '/api/counters/query', { userIds });

  assert.equal((await prepare('tx-1', ['ada', 'bob'])).body.vote, 'yes');
  assert.equal((await prepare('tx-2', ['ada'])).body.vote, 'yes');
  assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-1' })).status, 200);
  assert.equal((await send(counter, 'POST', '/api/commit_2pc', { txId: 'tx-2' })).status, 200);
  // Staged but not committed: invisible here as in GET /api/counters/:userId.
  assert.equal((await prepare('tx-3', ['ada', 'cy'])).body.vote, 'yes');

  await t.test('committed counts, 0 for users never counted, every id asked for answered', async () => {
    const answer = await query(['ada', 'bob', 'cy', 'nobody', '__proto__']);
    assert.equal(answer.status, 200);
    const { counters } = answer.body;
    for (const user of ['ada', 'bob', 'cy', 'nobody']) assert.equal(counters[user], await unread(counter, user), user);
    assert.ok(Object.hasOwn(counters, '__proto__'), 'an id like __proto__ is an ordinary key');
    assert.deepEqual(counters, { ada: 2, bob: 1, cy: 0, nobody: 0, ['__proto__']: 0 });
  });

  await t.test('10,000 users in one request', async () => {
    const userIds = ['ada', ...Array.from({ length: 9_999 }, (_, i) => `user-${i}`)];
    const answer = await query(userIds);
    assert.equal(answer.status, 200);
    assert.equal(Object.keys(answer.body.counters).length, 10_000);
    assert.equal(answer.body.counters.ada, 2);
    assert.equal(answer.body.counters['user-9998'], 0);
  });

  await t.test('malformed input is 400', async () => {
    const cases: unknown[] = [
      { userIds: [] },
      { userIds: Array.from({ length: 10_001 }, (_, i) => `user-${i}`) },
      { userIds: ['ada', 'ada'] },
      { userIds: [''] },
      { userIds: ['x'.repeat(129)] },
      { userIds: [42] },
      { userIds: 'ada' },
      { userIds: ['ada'], extra: true },
      {},
      ['ada'],
      '{"userIds":',
    ];
    for (const body of cases) {
      const response = await send<ErrorBody>(counter, 'POST', '/api/counters/query', body);
      assert.equal(response.status, 400, JSON.stringify(body).slice(0, 100));
      assert.equal(response.body.error.code, 'INVALID_ARGUMENT');
    }
  });

  assert.equal((await send(counter, 'DELETE', '/api/rollback_2pc', { txId: 'tx-3' })).status, 200);
});
