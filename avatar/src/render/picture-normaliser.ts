// An upload made into the stored original: its type sniffed, its declared pixels checked from the
// header before anything is decoded, turned upright by its EXIF orientation, scaled down to at most
// maxSide, every piece of metadata dropped (EXIF, GPS, XMP, ICC: sRGB pixels only), then encoded as
// JPEG q90 when opaque (sharp can shrink it on load, so variants render fast) or PNG when it has
// transparency. Its version is the first 32 hex digits of the SHA-256 of the stored bytes. A larger
// original also gets a working copy of at most WORKING_SIDE px, in the same format, that small variants
// are rendered from: decoding it costs a fraction of decoding the original.
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { createError, REASON } from '@notify/lib';
import { sniffImageType } from '../domain/image-type.ts';

/** Longest side of the working copy; variants up to half of it are rendered from it. */
export const WORKING_SIDE = 512;

/** The bytes-store version of a version's working copy. */
export function workingVersion(version: string): string {
  return `${version}w`;
}

/** Whether a variant of this size is rendered from the working copy (when the picture has one). */
export function fromWorkingCopy(size: number): boolean {
  return size * 2 <= WORKING_SIDE;
}

export interface NormalisedPicture {
  bytes: Buffer;
  /** The working copy's bytes: only when the original is larger than WORKING_SIDE. */
  working?: Buffer;
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
  const working = Math.max(info.width, info.height) > WORKING_SIDE ? await encode(sharp(data, raw).resize(WORKING_SIDE, WORKING_SIDE, { fit: 'inside' })) : undefined;
  return {
    bytes,
    ...(working ? { working } : {}),
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
