// The pieces on their own: style lookup fails loudly, styles draw deterministic RGB of the asked
// size, the LRU map keeps its byte and entry bounds, the limiter hands slots over in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { LruByteMap } from '@notify/lib';
import { CoverageRaster } from '../src/domain/coverage-raster.ts';
import { hashSeed } from '../src/domain/seed.ts';
import { renderLimiters } from '../src/render/render-limiter.ts';
import { resolveStyle, STYLE_NAMES } from '../src/styles/resolve.ts';

test('resolveStyle knows github and identicon and throws INVALID_ARGUMENT on anything else', () => {
  assert.deepEqual([...STYLE_NAMES].sort(), ['github', 'identicon']);
  for (const name of STYLE_NAMES) assert.equal(resolveStyle(name).name, name);
  for (const name of ['', 'Github', 'retro', '__proto__', 'constructor', 'hasOwnProperty']) {
    assert.throws(
      () => resolveStyle(name),
      (error: { code?: string; message?: string }) => error.code === 'INVALID_ARGUMENT' && /unknown avatar style .*known: github, identicon/.test(error.message ?? ''),
      name,
    );
  }
});

test('styles draw size × size RGB, the same for the same hash, different for another', () => {
  for (const name of STYLE_NAMES) {
    const style = resolveStyle(name);
    for (const size of [16, 17, 100, 333]) {
      const image = style.draw(hashSeed('ada'), size);
      assert.deepEqual([image.width, image.height, image.channels, image.data.length], [size, size, 3, size * size * 3], `${name} ${size}`);
      assert.ok(image.data.equals(style.draw(hashSeed('ada'), size).data), `${name} ${size}: deterministic`);
      assert.ok(!image.data.equals(style.draw(hashSeed('bob'), size).data), `${name} ${size}: seeds differ`);
    }
  }
});

test('coverage raster: exact areas, anti-aliased edges, shapes cut out of squares', () => {
  const cover = (draw: (raster: CoverageRaster) => void) => {
    const raster = new CoverageRaster(4, 4);
    draw(raster);
    // White on black: the red channel is the coverage, 0-255.
    return [...raster.paint([255, 255, 255], [0, 0, 0])].filter((_, i) => i % 3 === 0);
  };
  assert.deepEqual(cover((r) => r.addRect(1, 1, 2, 2)), [0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0]);
  // Half a pixel either side: edges half covered.
  assert.deepEqual(cover((r) => r.addRect(0.5, 0, 3, 1)), [128, 255, 255, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // A square with a smaller square cut out (the cut wound the other way).
  assert.deepEqual(
    cover((r) => {
      r.addRect(0, 0, 4, 4);
      r.addRect(1, 1, 2, 2, -1);
    }),
    [255, 255, 255, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 255, 255, 255],
  );
  // A right triangle over the whole canvas: the diagonal pixels half covered, total area 8 pixels.
  const triangle = cover((r) =>
    r.addPolygon([
      [0, 0],
      [4, 0],
      [0, 4],
    ]),
  );
  // Four half-covered pixels round 127.5 up to 128.
  assert.equal(triangle.reduce((sum, v) => sum + v, 0), 8 * 255 + 4 * 0.5);
  assert.deepEqual(triangle.slice(0, 4), [255, 255, 255, 128]);
});

test('LruByteMap: bounded by bytes and entries, least recently used out first', () => {
  const evicted: unknown[] = [];
  const map = new LruByteMap<string, Buffer>({ maxBytes: 10, maxEntries: 3, sizeOf: (b) => b.length, onEvict: (key) => evicted.push(key) });
  map.set('a', Buffer.alloc(4));
  map.set('b', Buffer.alloc(4));
  assert.equal(map.bytes, 8);
  map.get('a'); // a is now the most recent
  map.set('c', Buffer.alloc(4)); // 12 > 10: b, the least recent, goes
  assert.deepEqual([...map.keys()], ['a', 'c']);
  assert.deepEqual(evicted, ['b']);
  assert.equal(map.bytes, 8);
  map.set('a', Buffer.alloc(1)); // overwrite: re-counted, not evicted
  assert.equal(map.bytes, 5);
  map.set('d', Buffer.alloc(1));
  map.set('e', Buffer.alloc(1)); // 4 entries > 3: c, the least recent, goes
  assert.deepEqual([...map.keys()], ['a', 'd', 'e']);
  map.set('huge', Buffer.alloc(11)); // larger than the whole cache: not stored, nothing evicted
  assert.equal(map.has('huge'), false);
  assert.equal(map.size, 3);
  map.delete('a');
  assert.equal(map.bytes, 2);
  map.clear();
  assert.equal(map.bytes, 0);
});

test('LruByteMap: the most recent entry read again stays most recent; a deleted or re-added one is ordered anew', () => {
  const map = new LruByteMap<string, number>({ maxBytes: 100, maxEntries: 3, sizeOf: () => 1 });
  map.set('a', 1);
  map.set('b', 2);
  map.get('b');
  map.get('b'); // already the most recent: order unchanged
  assert.deepEqual([...map.keys()], ['a', 'b']);
  map.get('a');
  assert.deepEqual([...map.keys()], ['b', 'a']);
  map.delete('a'); // the most recent gone: the next read of another entry moves it
  map.set('c', 3);
  map.set('a', 1);
  map.get('b');
  assert.deepEqual([...map.keys()], ['c', 'a', 'b']);
  map.clear();
  map.set('x', 1);
  map.set('y', 2);
  map.get('x');
  map.set('z', 3);
  map.set('w', 4); // 4 entries > 3: y, the least recent, goes
  assert.deepEqual([...map.keys()], ['x', 'z', 'w']);
});

test('RenderLimiter: at most maxConcurrent at once, then in arrival order, refusing past maxQueued; each kind its own', async () => {
  const registry = new Registry();
  const limiters = renderLimiters({ generated: 1, pictures: 2, maxQueued: 2, registry });
  const limiter = limiters.picture;
  // The other kind's slot is its own: a generated avatar drawing meanwhile takes none of the pictures'.
  const drawing = Promise.withResolvers<void>();
  const generated = limiters.generated.run(() => drawing.promise);
  const order: number[] = [];
  const gates = Array.from({ length: 4 }, () => Promise.withResolvers<void>());
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      order.push(i);
      await gate.promise;
      return i;
    }),
  );
  await assert.rejects(limiter.run(async () => 99), (error: { code?: string }) => error.code === 'UNAVAILABLE');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [0, 1]);
  assert.deepEqual([limiter.running, limiter.queued], [2, 2]);
  gates[1]!.resolve();
  await runs[1];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [0, 1, 2]);
  const gauge = async (name: string) => Object.fromEntries((await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.kind, v.value]));
  assert.deepEqual(await gauge('avatar_renders_in_flight'), { generated: 1, picture: 2 });
  assert.deepEqual(await gauge('avatar_renders_queued'), { generated: 0, picture: 1 });
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  drawing.resolve();
  await generated;
  assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
});
