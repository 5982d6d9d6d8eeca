// An upload made into the stored original: its type sniffed, its declared pixels checked from the
// header before anything is decoded, turned upright by its EXIF orientation, scaled down to at most
// maxSide, every piece of metadata dropped (EXIF, GPS, XMP, ICC: sRGB pixels only), then encoded as
// JPEG q90 when opaque (sharp can shrink it on load, so variants render fast) or PNG when it has
// transparency. Its version is the first 32 hex digits of the SHA-256 of the stored bytes. A larger
// original also gets working copies (256 and 512 px, in the same format) that smaller variants are
// rendered from: reading and decoding one costs a fraction of the original.
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { createError, REASON } from '@notify/lib';
import { sniffImageType } from '../domain/image-type.ts';

/**
 * The working copies, smallest first: a picture larger than `side` keeps one of at most `side` px,
 * stored as `<version><suffix>`, and a variant is drawn from the smallest one at least twice its size.
 */
export const WORKING_COPIES = [
  { side: 256, suffix: 's' },
  { side: 512, suffix: 'w' },
] as const;

type WorkingCopy = (typeof WORKING_COPIES)[number];

/** The bytes-store version of a version's working copy. */
const copyVersion = (version: string, copy: WorkingCopy) => `${version}${copy.suffix}`;

/** The bytes-store version of a version's working copy of this side. */
export function workingVersion(version: string, side: WorkingCopy['side']): string {
  return copyVersion(version, WORKING_COPIES.find((copy) => copy.side === side)!);
}

/**
 * The bytes-store versions a variant of this size may be drawn from, best first: the working copies
 * at least twice its size, then the original. A picture has only the copies smaller than itself:
 * with its longest side known, the others are not listed.
 */
export function sourcesFor(version: string, size: number, side?: number): string[] {
  const copies = WORKING_COPIES.filter((copy) => size * 2 <= copy.side && (side === undefined || side > copy.side));
  return [...copies.map((copy) => copyVersion(version, copy)), version];
}

/** Every bytes-store version a picture's version may have: the original and its working copies. */
export function storedVersions(version: string): string[] {
  return [version, ...WORKING_COPIES.map((copy) => copyVersion(version, copy))];
}

export interface NormalisedPicture {
  bytes: Buffer;
  /** The working copies smaller than the original, smallest first. */
  working: { side: (typeof WORKING_COPIES)[number]['side']; bytes: Buffer }[];
  version: string;
  format: 'jpeg' | 'png';
  contentType: string;
  width: number;
  height: number;
}

export interface NormaliseLimits {
  maxPixels: number;
  maxSide: number;
}

const unsupported = (message: string) => createError({ code: 'INVALID_ARGUMENT', message, details: { reason: REASON.UNSUPPORTED_IMAGE } });

/** First 32 hex digits of the SHA-256 of `bytes`. */
export function pictureDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

export async function normalisePicture(upload: Buffer, limits: NormaliseLimits): Promise<NormalisedPicture> {
  const type = sniffImageType(upload);
  if (!type) throw unsupported('the body is not a PNG, JPEG, WebP, AVIF/HEIF or GIF image');
  // The header only: nothing is decoded yet.
  let header: Metadata;
  try {
    header = await sharp(upload, { limitInputPixels: false }).metadata();
  } catch {
    throw unsupported(`the ${type} image cannot be read`);
  }
  if (header.format !== type) throw unsupported(`the image starts like ${type} but reads as ${String(header.format)}`);
  const width = header.width;
  const height = header.height;
  if (!width || !height) throw unsupported(`the ${type} image has no size`);
  if (width * height > limits.maxPixels) {
    throw createError({
      code: 'INVALID_ARGUMENT',
      message: `the image has ${width}×${height} pixels; at most ${limits.maxPixels} are accepted`,
      details: { reason: REASON.IMAGE_TOO_MANY_PIXELS, width, height, pixels: width * height, limit: limits.maxPixels },
    });
  }
  let pixels: { data: Buffer; info: OutputInfo };
  try {
    // Upright (EXIF orientation), within maxSide, sRGB; raw pixels carry no metadata at all. The
    // first frame of an animation; a truncated or corrupt image is refused, not half-read.
    pixels = await sharp(upload, { limitInputPixels: limits.maxPixels, pages: 1, failOn: 'error' })
      .rotate()
      .resize(limits.maxSide, limits.maxSide, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch {
    throw unsupported(`the ${type} image cannot be decoded`);
  }
  const { data, info } = pixels;
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const transparent = info.channels === 4 && !alphaIsOpaque(data);
  const encode = (image: Sharp) =>
    transparent ? image.png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer() : image.removeAlpha().toColourspace('srgb').jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer();
  const bytes = await encode(sharp(data, raw));
  const working = [];
  for (const { side } of WORKING_COPIES) {
    if (Math.max(info.width, info.height) > side) working.push({ side, bytes: await encode(sharp(data, raw).resize(side, side, { fit: 'inside' })) });
  }
  return {
    bytes,
    working,
    version: pictureDigest(bytes),
    format: transparent ? 'png' : 'jpeg',
    contentType: transparent ? 'image/png' : 'image/jpeg',
    width: info.width,
    height: info.height,
  };
}

/** True when every pixel of RGBA `data` is fully opaque. */
function alphaIsOpaque(data: Buffer): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}
