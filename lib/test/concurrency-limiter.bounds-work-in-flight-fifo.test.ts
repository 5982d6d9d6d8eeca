// The kit's concurrency limiter (the gateway's admission of publishes and acks, the avatar's renders):
// at most `maxConcurrent` run at once, the rest wait in arrival order, a full queue is refused with
// UNAVAILABLE and a Retry-After, a failure frees its slot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimiter } from '../src/concurrency/concurrency-limiter.ts';

test('the limiter runs at most `maxConcurrent` at once, in arrival order, and refuses past a full queue', async () => {
  const admission = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 2, refusal: () => 'full' });
  const gates = new Map<number, () => void>();
  const started: number[] = [];
  const job = (n: number) =>
    admission.run(async () => {
      started.push(n);
      await new Promise<void>((resolve) => gates.set(n, resolve));
      return n;
    });
  const runs = [1, 2, 3, 4].map(job);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual([admission.running, admission.queued], [2, 2]);
  await assert.rejects(job(5), (error: { code: string; details: { retryAfterSeconds: number } }) => error.code === 'UNAVAILABLE' && error.details.retryAfterSeconds === 1);

  gates.get(2)!();
  await runs[1];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [1, 2, 3], 'the first in line takes the freed slot');
  const failing = admission.run(async () => Promise.reject(new Error('boom')));
  gates.get(1)!();
  gates.get(3)!();
  await assert.rejects(failing, /boom/);
  gates.get(4)!();
  assert.deepEqual(await Promise.all(runs), [1, 2, 3, 4]);
  assert.deepEqual([admission.running, admission.queued], [0, 0], 'every slot is back');
});
