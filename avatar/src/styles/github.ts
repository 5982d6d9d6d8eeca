// GitHub's default avatar: a 5×5 grid of cells mirrored left to right, one colour from the hash on a
// light grey ground, with half a cell of padding (GitHub draws 70 px cells in a 420 px square, 35 px
// margin). The algorithm is GitHub's (as in its open-source `identicon` crate), fed with SHA-256.
import { hslToRgb, type Rgb } from '../domain/colour.ts';
import { fillPixels, repeatRow, solidImage } from '../domain/pixels.ts';
import { AvatarStyle, type RawImage } from './base.ts';

const BACKGROUND: Rgb = [240, 240, 240];
const GRID = 5;
/** Twelve half-cells across: a half-cell margin, five cells, a half-cell margin. */
const HALF_CELLS = 2 * GRID + 2;

export class GithubStyle extends AvatarStyle {
  readonly name = 'github';
  readonly description = 'GitHub-like: 5×5 cells mirrored, one colour on light grey, half a cell of padding';

  draw(hash: Buffer, size: number): RawImage {
    const cells = paintedCells(hash);
    const colour = foreground(hash);
    const data = solidImage(size, size, BACKGROUND);
    // Cell edges at the nearest pixel to k·size/12, so cells differ by one pixel at most.
    const edge = (halfCells: number) => Math.round((halfCells * size) / HALF_CELLS);
    for (let row = 0; row < GRID; row++) {
      const top = edge(1 + 2 * row);
      const bottom = edge(3 + 2 * row);
      if (bottom <= top) continue;
      let painted = false;
      for (let column = 0; column < GRID; column++) {
        if (!cells[row * GRID + column]) continue;
        const left = edge(1 + 2 * column);
        fillPixels(data, top * size + left, edge(3 + 2 * column) - left, colour);
        painted = true;
      }
      // The row's first pixel line is drawn; the others are copies of it.
      if (painted) repeatRow(data, size, top, top + 1, bottom - top - 1);
    }
    return { data, width: size, height: size, channels: 3 };
  }
}

/** Which of the 25 cells are painted: one bit (an even nibble) per cell of the three left columns, mirrored. */
function paintedCells(hash: Buffer): boolean[] {
  const cells = new Array<boolean>(GRID * GRID).fill(false);
  let nibble = 0;
  for (let column = 2; column >= 0; column--) {
    for (let row = 0; row < GRID; row++) {
      const byte = hash[nibble >> 1]!;
      const value = nibble % 2 === 0 ? byte >> 4 : byte & 0x0f;
      nibble += 1;
      const paint = value % 2 === 0;
      cells[row * GRID + column] = paint;
      cells[row * GRID + (GRID - 1 - column)] = paint;
    }
  }
  return cells;
}

/** GitHub's colour: hue from 12 bits, saturation 45-65 % and lightness 55-75 % from a byte each. */
function foreground(hash: Buffer): Rgb {
  const hue = (((hash[12]! & 0x0f) << 8) | hash[13]!) * (360 / 4095);
  const saturation = 65 - (hash[14]! * 20) / 255;
  const lightness = 75 - (hash[15]! * 20) / 255;
  return hslToRgb(hue, saturation, lightness);
}
