// FairShare in process: a caller past its calls in flight or its rate waits (its connection not
// read meanwhile) instead of being refused, in order; other callers do not wait; idle callers are forgotten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FairShare, type Readable } from '../src/rpc/fair-share.ts';

function connection(): Readable & { paused: number; resumed: number } {
  return {
    paused: 0,
    resumed: 0,
    pauseReading() {
      this.paused += 1;
    },
    resumeReading() {
      this.resumed += 1;
    },
  };
}

/** Whether `promise` has settled after the current turn's callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await sleep(0);
  return done;
}

test('past maxInflight a call waits, its connection paused, and starts when one ends; other callers do not wait', async () => {
  const share = new FairShare({ maxInflight: 2, perSecond: Infinity, burst: 2 });
  const from = connection();
  await share.acquire('user:a', from);
  await share.acquire('user:a', from);
  const third = share.acquire('user:a', from);
  const fourth = share.acquire('user:a', from);
  assert.equal(await settled(third), false, 'the third waits');
  assert.deepEqual([from.paused, from.resumed], [1, 0], 'its connection is paused once');
  assert.equal(share.waiting, 2);

  await share.acquire('user:b', connection());
  assert.equal(await settled(third), false, 'another caller went ahead without waiting');

  share.release('user:a');
  assert.equal(await settled(third), true, 'a call ended: the third starts');
  assert.equal(await settled(fourth), false, 'the fourth still waits, in order');
  share.release('user:a');
  assert.equal(await settled(fourth), true);
  assert.deepEqual([from.paused, from.resumed], [1, 1], 'read again once nothing waits');
  share.release('user:a');
  share.release('user:a');
  share.release('user:b');
  assert.equal(share.callers, 0, 'idle callers with a full bucket are forgotten');
});

test('past the rate a call waits for its token; the bucket refills, and a quiet caller is forgotten once full', async () => {
  const share = new FairShare({ maxInflight: 100, perSecond: 20, burst: 2 });
  const from = connection();
  const began = performance.now();
  await share.acquire('user:a', from);
  await share.acquire('user:a', from);
  const third = share.acquire('user:a', from);
  assert.equal(await settled(third), false, 'the burst is spent: the third waits');
  assert.equal(from.paused, 1);
  await third;
  assert.ok(performance.now() - began >= 40, 'not before a token was due (1/20 s)');
  for (let i = 0; i < 3; i += 1) share.release('user:a');
  assert.equal(from.resumed, 1);
  assert.equal(share.callers, 1, 'kept while its bucket refills, so a pause does not reset the rate');
  for (const deadline = Date.now() + 30_000; share.callers > 0; await sleep(10)) assert.ok(Date.now() < deadline, 'forgotten once full');
});
