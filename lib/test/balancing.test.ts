// Balancing strategies: round-robin order, correctness while the list changes, loud unknown names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Instance } from '../src/discovery/service-watcher.ts';
import { resolveStrategy } from '../src/balancing/resolve.ts';

const instance = (id: string): Instance => ({ id, service: 's', address: '127.0.0.1', port: 1, tags: [], meta: {} });

test('round-robin visits every instance in turn', () => {
  const strategy = resolveStrategy('round-robin');
  const list = ['a', 'b', 'c'].map(instance);
  const picked = Array.from({ length: 9 }, () => strategy.pick(list)!.id);
  assert.deepEqual(picked, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

test('round-robin only ever returns a member of the list it is given, as the list changes', () => {
  const strategy = resolveStrategy('round-robin');
  let list = ['a', 'b', 'c', 'd'].map(instance);
  const counts = new Map<string, number>();
  for (let call = 0; call < 10_000; call += 1) {
    if (call % 97 === 0) list = list.length > 1 ? list.slice(1) : ['a', 'b', 'c', 'd', 'e'].map(instance);
    const chosen = strategy.pick(list);
    assert.ok(chosen && list.includes(chosen), `call ${call} picked a member`);
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
  }
  assert.equal(strategy.pick([]), undefined);
});

test('random picks members and spreads', () => {
  const strategy = resolveStrategy('random');
  const list = ['a', 'b'].map(instance);
  const seen = new Set(Array.from({ length: 200 }, () => strategy.pick(list)!.id));
  assert.deepEqual([...seen].sort(), ['a', 'b']);
});

test('an unknown strategy name fails loudly', () => {
  assert.throws(() => resolveStrategy('least-loaded'), /unknown balancing strategy "least-loaded" \(known: round-robin, random\)/);
});
