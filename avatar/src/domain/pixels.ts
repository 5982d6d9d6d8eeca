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

/** An 8-bit raw image as sharp describes it: 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA) channels. */
export interface RawShape {
  width: number;
  height: number;
  channels: number;
}

/**
 * `data` centred on a transparent size×size RGBA square (left and top offsets rounded down, as
 * sharp's contain does): gray becomes equal R, G and B, a missing alpha is opaque.
 */
export function centredOnTransparent(data: Buffer, shape: RawShape, size: number): Buffer {
  const { width, height, channels } = shape;
  if (width > size || height > size) throw new RangeError(`a ${width}×${height} image does not fit a ${size} px square`);
  if (channels < 1 || channels > 4) throw new RangeError(`${channels} channels: expected 1 to 4`);
  if (data.length !== width * height * channels) throw new RangeError(`${data.length} bytes are not a ${width}×${height}×${channels} image`);
  // Zero-filled: transparent black, sharp's background of contain.
  const out = Buffer.alloc(size * size * 4);
  const left = (size - width) >> 1;
  const top = (size - height) >> 1;
  const colour = channels >= 3;
  const alpha = channels === 2 || channels === 4;
  for (let y = 0; y < height; y++) {
    let from = y * width * channels;
    let to = ((top + y) * size + left) * 4;
    if (channels === 4) {
      data.copy(out, to, from, from + width * 4);
      continue;
    }
    for (let x = 0; x < width; x++, from += channels, to += 4) {
      const red = data[from]!;
      out[to] = red;
      out[to + 1] = colour ? data[from + 1]! : red;
      out[to + 2] = colour ? data[from + 2]! : red;
      out[to + 3] = alpha ? data[from + channels - 1]! : 255;
    }
  }
  return out;
}
