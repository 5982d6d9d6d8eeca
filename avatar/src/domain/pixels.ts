// Raw pixel buffers for sharp (8-bit RGB, row-major, no row padding), filled with as few JS
// operations as possible: runs with Buffer.fill, repeated rows with Buffer.copy.
import type { Rgb } from './colour.ts';

export const RGB_CHANNELS = 3;

/** A size×size RGB buffer of one colour. */
export function solidImage(width: number, height: number, colour: Rgb): Buffer {
  const data = Buffer.allocUnsafe(width * height * RGB_CHANNELS);
  fillPixels(data, 0, width, colour);
  // Doubling copies: log2(height) calls instead of one per row.
  const rowBytes = width * RGB_CHANNELS;
  let filled = rowBytes;
  while (filled < data.length) {
    const chunk = Math.min(filled, data.length - filled);
    data.copy(data, filled, 0, chunk);
    filled += chunk;
  }
  return data;
}

/** Paints `count` pixels of `colour` from pixel index `start` (doubling copies of the first pixel). */
export function fillPixels(data: Buffer, start: number, count: number, colour: Rgb): void {
  if (count <= 0) return;
  const offset = start * RGB_CHANNELS;
  data[offset] = colour[0];
  data[offset + 1] = colour[1];
  data[offset + 2] = colour[2];
  const end = offset + count * RGB_CHANNELS;
  let filled = offset + RGB_CHANNELS;
  while (filled < end) {
    const chunk = Math.min(filled - offset, end - filled);
    data.copy(data, filled, offset, offset + chunk);
    filled += chunk;
  }
}

/** Copies row `from` over rows `to`..`to + count - 1` of a `width`-pixel image. */
export function repeatRow(data: Buffer, width: number, from: number, to: number, count: number): void {
  const rowBytes = width * RGB_CHANNELS;
  const source = from * rowBytes;
  for (let row = to; row < to + count; row++) data.copy(data, row * rowBytes, source, source + rowBytes);
}

/** 256 blends of background into foreground (level 0 = background, 255 = foreground), three bytes each. */
export function blendTable(foreground: Rgb, background: Rgb): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let level = 0; level < 256; level++) {
    for (let c = 0; c < 3; c++) table[level * 3 + c] = Math.round(background[c]! + ((foreground[c]! - background[c]!) * level) / 255);
  }
  return table;
}
