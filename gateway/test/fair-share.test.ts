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
  const share = new FairShare({ maxInflight: 2, perSecond: Infinity, burst: 2, maxWaiting: 10 });
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
  const share = new FairShare({ maxInflight: 100, perSecond: 20, burst: 2, maxWaiting: 10 });
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

test('at most maxWaiting calls of one caller wait; a closed connection’s waiting calls fail and the rest go on', async () => {
  const share = new FairShare({ maxInflight: 1, perSecond: Infinity, burst: 1, maxWaiting: 2 });
  const a = connection();
  const b = connection();
  await share.acquire('user:u', a);
  const fromA = share.acquire('user:u', a);
  const fromB = share.acquire('user:u', b);
  await assert.rejects(share.acquire('user:u', b), (error: { code?: string }) => error.code === 'RATE_LIMITED', 'a third waiting call is refused');
  share.abandon(a);
  await assert.rejects(fromA, (error: { code?: string }) => error.code === 'UNAVAILABLE', 'the closed connection’s call fails instead of running');
  assert.equal(await settled(fromB), false, 'the other connection’s call still waits its turn');
  share.release('user:u');
  await fromB;
  share.release('user:u');
  assert.deepEqual([b.paused, b.resumed], [1, 1]);
  assert.equal(share.callers, 0);
});

test('a rate-limited flood of many concurrent callers’ lanes always drains (no waiter is left without a timer)', async () => {
  for (let round = 0; round < 5; round += 1) {
    const share = new FairShare({ maxInflight: 16, perSecond: 400, burst: 20, maxWaiting: 1_000 });
    const from = connection();
    let flooding = true;
    let served = 0;
    const lane = async () => {
      while (flooding) {
        await share.acquire('user:flood', from);
        await sleep(Math.random() * 3);
        served += 1;
        share.release('user:flood');
      }
    };
    const lanes = Array.from({ length: 200 }, lane);
    await sleep(300 + Math.random() * 300);
    flooding = false;
    // 200 lanes at 400 a second: about half a second; a stall would never end.
    const finished = await Promise.race([Promise.all(lanes).then(() => true), sleep(60_000).then(() => false)]);
    assert.ok(finished, `round ${round}: ${share.waiting} calls left waiting after ${served} served`);
    assert.equal(share.waiting, 0);
  }
});

test('a token that comes due between two readings of the clock still starts the waiting call', async () => {
  // A clock that moves a few ms at every reading (a fraction of a token at 100 a second): the
  // bucket may cross one token between deciding a call must wait and arming the timer for it.
  let clock = 0;
  const share = new FairShare({ maxInflight: 10, perSecond: 100, burst: 1, maxWaiting: 10, now: () => (clock += Math.random() * 4) });
  const from = connection();
  for (let i = 0; i < 300; i += 1) {
    const started = share.acquire('user:a', from).then(() => true);
    const done = await Promise.race([started, sleep(10_000).then(() => false)]);
    assert.ok(done, `call ${i} never started (${share.waiting} waiting)`);
    share.release('user:a');
  }
});
