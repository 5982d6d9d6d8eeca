// Don Park's identicon (2007), as the original avatar service drew it: a 3×3 grid of patches (a
// centre patch, four side patches and four corner patches, each group one shape turned a quarter
// further clockwise at each position), any of which may be inverted. Shapes, rotations and
// inversions come from the first 32 bits of the hash, laid out as in Don Park's code. The colour
// is chosen in HSL from the following bits (Don Park took 15 bits of RGB, which gave near-white
// avatars on white), on a white ground with a small margin. Edges are anti-aliased.
import { hslToRgb, type Rgb } from '../domain/colour.ts';
import { CoverageRaster, type Point } from '../domain/coverage-raster.ts';
import { AvatarStyle, type RawImage } from './base.ts';

const BACKGROUND: Rgb = [255, 255, 255];

/** Don Park's 16 patch shapes: polygons on a 5×5 lattice of points numbered row by row (0-24). */
const PATCHES: readonly (readonly number[])[] = [
  [0, 4, 24, 20], // full square
  [0, 4, 20], // half square, diagonal
  [2, 24, 20], // isoceles triangle
  [0, 2, 20, 22], // parallelogram
  [2, 14, 22, 10], // centred diamond
  [0, 14, 24, 22], // kite
  [2, 24, 22, 13, 11, 22, 20], // triangle with a triangular hole
  [0, 14, 22], // slanted triangle
  [6, 8, 18, 16], // centred small square
  [4, 20, 10, 12, 2], // arrow
  [0, 2, 12, 10], // quarter square
  [10, 14, 22], // small triangle, bottom
  [20, 12, 24], // small triangle, bottom corner
  [10, 2, 12], // small triangle, top left
  [0, 2, 10], // corner triangle
  [0, 4, 24, 20], // full square, drawn inverted: an empty patch
];

/** Shapes the centre patch may take: symmetric under rotation. */
const CENTRE_PATCHES = [0, 4, 8, 15];

/** The empty patch: Don Park inverts its full square. */
const EMPTY_PATCH = 15;

/** Patch grid positions (column, row) clockwise from the top (sides) and from the top left (corners). */
const SIDES: readonly Point[] = [
  [1, 0],
  [2, 1],
  [1, 2],
  [0, 1],
];
const CORNERS: readonly Point[] = [
  [0, 0],
  [2, 0],
  [2, 2],
  [0, 2],
];

export class IdenticonStyle extends AvatarStyle {
  readonly name = 'identicon';
  readonly description = "Don Park's identicon: 3×3 patches of 16 shapes, turned and inverted, one colour on white";

  draw(hash: Buffer, size: number): RawImage {
    const code = hash.readUInt32BE(0);
    const raster = new CoverageRaster(size, size);
    // One sixteenth of margin each side (1 px at 16 px); the patches share the rest.
    const margin = size / 16;
    const patchSize = (size - 2 * margin) / 3;
    const patch = (column: number, row: number, shape: number, turn: number, invert: boolean) =>
      drawPatch(raster, margin + column * patchSize, margin + row * patchSize, patchSize, shape, turn, invert);

    patch(1, 1, CENTRE_PATCHES[code & 3]!, 0, ((code >>> 2) & 1) === 1);
    const sideShape = (code >>> 10) & 15;
    const sideInvert = ((code >>> 14) & 1) === 1;
    const sideTurn = (code >>> 15) & 3;
    SIDES.forEach(([column, row], i) => patch(column, row, sideShape, sideTurn + i, sideInvert));
    const cornerShape = (code >>> 3) & 15;
    const cornerInvert = ((code >>> 7) & 1) === 1;
    const cornerTurn = (code >>> 8) & 3;
    CORNERS.forEach(([column, row], i) => patch(column, row, cornerShape, cornerTurn + i, cornerInvert));

    return { data: raster.paint(foreground(hash, code), BACKGROUND), width: size, height: size, channels: 3 };
  }
}

/**
 * One patch at (x, y), `size` wide: its shape turned `turn` quarters clockwise about the patch's
 * centre, or, inverted, the patch square with the shape cut out of it.
 */
function drawPatch(raster: CoverageRaster, x: number, y: number, size: number, shape: number, turn: number, invert: boolean): void {
  const inverted = shape === EMPTY_PATCH ? !invert : invert;
  const half = size / 2;
  const scale = size / 4;
  const quarterTurns = turn % 4;
  const points = PATCHES[shape]!.map((vertex): Point => {
    // Lattice point relative to the patch centre, turned clockwise (y grows downwards).
    let dx = (vertex % 5) * scale - half;
    let dy = Math.floor(vertex / 5) * scale - half;
    for (let q = 0; q < quarterTurns; q++) [dx, dy] = [-dy, dx];
    return [x + half + dx, y + half + dy];
  });
  // Winding is made positive, so a shape adds coverage and, reversed, cuts it out of its square.
  const wound = signedArea(points) >= 0 ? points : points.reverse();
  if (inverted) {
    raster.addRect(x, y, size, size);
    raster.addPolygon(wound.reverse());
  } else {
    raster.addPolygon(wound);
  }
}

/** Twice the signed area (shoelace); positive for clockwise on screen. */
function signedArea(points: readonly Point[]): number {
  let area = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i]!;
    const [x1, y1] = points[(i + 1) % points.length]!;
    area += x0 * y1 - x1 * y0;
  }
  return area;
}

/** A saturated, mid-light colour that stands out on white: hue from 16 bits, the rest from a byte each. */
function foreground(hash: Buffer, code: number): Rgb {
  const hue = ((code >>> 16) * 360) / 65_536;
  const saturation = 50 + (hash[4]! * 25) / 255;
  const lightness = 38 + (hash[5]! * 17) / 255;
  return hslToRgb(hue, saturation, lightness);
}
