// When npm start restarts an instance that died, and when it gives up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartPolicy } from '../scripts/launcher/restart-policy.ts';

test('restarts after a pause that doubles with recent deaths, and gives up at the limit within the window', () => {
  const policy = new RestartPolicy({ maxCrashes: 4, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 2_000 });
  assert.deepEqual(policy.onDeath('persist-1', 0), { restart: true, inMs: 500, recent: 1 });
  assert.deepEqual(policy.onDeath('persist-1', 1_000), { restart: true, inMs: 1_000, recent: 2 });
  assert.deepEqual(policy.onDeath('persist-1', 2_000), { restart: true, inMs: 2_000, recent: 3 }, 'capped');
  assert.deepEqual(policy.onDeath('counter-1', 2_500), { restart: true, inMs: 500, recent: 1 }, 'each instance counts its own deaths');
  assert.deepEqual(policy.onDeath('persist-1', 3_000), { restart: false, recent: 4 }, 'the fourth death within the window ends the run');
  assert.equal(policy.restarts('persist-1'), 4);
});

test('deaths older than the window are forgotten: an instance that dies now and then is always restarted', () => {
  const policy = new RestartPolicy({ maxCrashes: 2, windowMs: 10_000 });
  for (let at = 0; at < 100_000; at += 20_000) assert.deepEqual(policy.onDeath('gateway-1', at), { restart: true, inMs: 500, recent: 1 });
  assert.equal(policy.restarts('gateway-1'), 5, 'every restart is counted for /status');
});
