// Contain variants up to PADDED_HERE_MAX_SIZE are centred on their square in JS rather than by
// libvips' embed, because that is cheaper: the bytes must be exactly those of sharp's own contain,
// for every kind of source (JPEG working copies, square ones, transparent PNGs, a square PNG),
// odd and even padding, colour and gray, WebP and AVIF, whichever path encodeVariant takes; and
// which variants take the JS path. The padding itself: offsets, channels, bounds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { centredOnTransparent } from '../src/domain/pixels.ts';
import type { VariantSpec } from '../src/domain/variant-request.ts';
import { containedHere, encoded, encodeVariant, fittedBySharp, PADDED_HERE_MAX_SIZE, paddedHere } from '../src/render/variant-encoder.ts';
import { testImage } from './helper.ts';

const OPTIONS = { encoding: { pngCompressionLevel: 6, webpEffort: 2, avifEffort: 2 }, maxPixels: 1_024 * 1_024 };

test('contain padded here gives the bytes of sharp’s contain', async () => {
  const sources: [string, Buffer][] = [
    ['landscape JPEG', await testImage(256, 192, 'jpeg')],
    ['portrait JPEG', await testImage(171, 256, 'jpeg')],
    ['wide JPEG', await testImage(256, 37, 'jpeg')],
    ['square JPEG', await testImage(256, 256, 'jpeg')],
    // Square once fitted at 16 px (16 × 15.6 rounds to 16 × 16), not before.
    ['nearly square JPEG', await testImage(256, 250, 'jpeg')],
    ['transparent PNG', await testImage(256, 160, 'png', { alpha: true })],
    ['square PNG', await testImage(200, 200, 'png')],
  ];
  let compared = 0;
  for (const [name, input] of sources) {
    for (const size of [16, 33, 128, PADDED_HERE_MAX_SIZE]) {
      for (const format of ['webp', 'avif'] as const) {
        for (const grayscale of [false, true]) {
          const spec: VariantSpec = { size, format, fit: 'contain', grayscale, blur: undefined };
          const label = `${name} at ${size} px ${format}${grayscale ? ' gray' : ''}`;
          const bySharp = await encoded(fittedBySharp(input, spec, OPTIONS), spec, OPTIONS.encoding);
          const variant = await encodeVariant(input, spec, OPTIONS);
          assert.ok(variant.equals(bySharp), `${label}: encodeVariant`);
          const meta = await sharp(variant).metadata();
          assert.deepEqual([meta.width, meta.height], [size, size], label);
          // Gray from a source with alpha stays with sharp: its raw gray output has no alpha.
          if (grayscale && name === 'transparent PNG') continue;
          const here = await encoded(await containedHere(input, spec, OPTIONS), spec, OPTIONS.encoding);
          assert.ok(here.equals(bySharp), `${label}: ${here.length} bytes padded here, ${bySharp.length} by sharp`);
          compared += 1;
        }
      }
    }
  }
  assert.equal(compared, 7 * 4 * 2 * 2 - 4 * 2);
});

test('the JS path takes contain up to 256 px in WebP or AVIF, unblurred, gray only from JPEG', async () => {
  const jpeg = await testImage(64, 48, 'jpeg');
  const png = await testImage(64, 48, 'png', { alpha: true });
  const spec = (changes: Partial<VariantSpec>): VariantSpec => ({ size: 128, format: 'webp', fit: 'contain', grayscale: false, blur: undefined, ...changes });
  const taken: [string, boolean, boolean][] = [
    ['contain webp', paddedHere(jpeg, spec({})), true],
    ['contain avif', paddedHere(jpeg, spec({ format: 'avif' })), true],
    ['contain at 256 px', paddedHere(jpeg, spec({ size: PADDED_HERE_MAX_SIZE })), true],
    ['contain gray from JPEG', paddedHere(jpeg, spec({ grayscale: true })), true],
    ['contain from PNG', paddedHere(png, spec({})), true],
    ['contain gray from PNG', paddedHere(png, spec({ grayscale: true })), false],
    ['contain png', paddedHere(jpeg, spec({ format: 'png' })), false],
    ['contain blurred', paddedHere(jpeg, spec({ blur: 2 })), false],
    ['contain at 257 px', paddedHere(jpeg, spec({ size: PADDED_HERE_MAX_SIZE + 1 })), false],
    ['cover', paddedHere(jpeg, spec({ fit: 'cover' })), false],
  ];
  for (const [name, actual, expected] of taken) assert.equal(actual, expected, name);
});

test('padding: centred with offsets rounded down, gray spread to RGB, opaque unless the source has alpha', () => {
  // 2×1 gray on a 5 px square: left (5-2)>>1 = 1, top (5-1)>>1 = 2.
  const gray = centredOnTransparent(Buffer.from([10, 20]), { width: 2, height: 1, channels: 1 }, 5);
  assert.equal(gray.length, 5 * 5 * 4);
  const pixel = (data: Buffer, x: number, y: number) => [...data.subarray((y * 5 + x) * 4, (y * 5 + x) * 4 + 4)];
  assert.deepEqual(pixel(gray, 1, 2), [10, 10, 10, 255]);
  assert.deepEqual(pixel(gray, 2, 2), [20, 20, 20, 255]);
  for (const [x, y] of [[0, 2], [3, 2], [1, 1], [1, 3], [0, 0], [4, 4]] as const) assert.deepEqual(pixel(gray, x, y), [0, 0, 0, 0], `${x},${y} transparent`);

  assert.deepEqual(pixel(centredOnTransparent(Buffer.from([7, 9]), { width: 1, height: 1, channels: 2 }, 5), 2, 2), [7, 7, 7, 9]);
  assert.deepEqual(pixel(centredOnTransparent(Buffer.from([1, 2, 3]), { width: 1, height: 1, channels: 3 }, 5), 2, 2), [1, 2, 3, 255]);
  const rgba = centredOnTransparent(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), { width: 1, height: 2, channels: 4 }, 5);
  assert.deepEqual([pixel(rgba, 2, 1), pixel(rgba, 2, 2), pixel(rgba, 2, 3)], [[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 0, 0]]);

  assert.throws(() => centredOnTransparent(Buffer.alloc(6 * 3), { width: 6, height: 1, channels: 3 }, 5), RangeError);
  assert.throws(() => centredOnTransparent(Buffer.alloc(5), { width: 1, height: 1, channels: 5 }, 5), RangeError);
  assert.throws(() => centredOnTransparent(Buffer.alloc(2), { width: 1, height: 1, channels: 3 }, 5), RangeError);
});
