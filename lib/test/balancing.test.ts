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

test('round-robin only ever returns a member of the list it is given, and stays fair as the list changes', () => {
  const strategy = resolveStrategy('round-robin');
  let list = ['a', 'b', 'c', 'd'].map(instance);
  let segment = new Map<string, number>();
  const checkSegment = () => {
    // Within one unchanged list every member is picked equally often, give or take one.
    const shares = list.map((member) => segment.get(member.id) ?? 0);
    assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `fair shares ${JSON.stringify(shares)}`);
  };
  for (let call = 0; call < 10_000; call += 1) {
    if (call % 97 === 0) {
      if (call > 0) checkSegment();
      list = list.length > 1 ? list.slice(1) : ['a', 'b', 'c', 'd', 'e'].map(instance);
      segment = new Map();
    }
    const chosen = strategy.pick(list);
    assert.ok(chosen && list.includes(chosen), `call ${call} picked a member`);
    segment.set(chosen.id, (segment.get(chosen.id) ?? 0) + 1);
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
