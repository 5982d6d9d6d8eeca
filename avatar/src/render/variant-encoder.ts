// A variant's bytes from its source (a stored original, a working copy or a generated PNG): the
// square (cover or contain), grayscale, blur, then PNG, WebP or AVIF. Equal inputs give equal
// bytes: no metadata is written, and libvips runs one thread per image (set in png-encoder.ts).
import sharp, { type Sharp } from 'sharp';
import './png-encoder.ts';
import { sniffImageType } from '../domain/image-type.ts';
import { centredOnTransparent } from '../domain/pixels.ts';
import type { VariantSpec } from '../domain/variant-request.ts';

export interface VariantEncoding {
  /** zlib level of PNG variants, 0-9. */
  pngCompressionLevel: number;
  webpEffort: number;
  avifEffort: number;
}

export interface VariantEncoderOptions {
  encoding: VariantEncoding;
  /** sharp's limitInputPixels on the source. */
  maxPixels: number;
}

/** Transparent black: what contain pads with. */
const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };

/**
 * Contain variants up to this size are centred on their square here, not by libvips, whose embed
 * costs about 2 ms of CPU at these sizes (a 128 px WebP from a 256 px working copy, two at once on
 * 2 cores: 6.5 ms through sharp's contain, 4.5 ms fitted inside and padded here; `npm run
 * bench:encoding`), while padding takes the event loop 0.2-0.5 ms at 256 px, about 0.2 ms at 128.
 * The bytes are the same. Not for PNG, whose output from sharp's contain carries the source's
 * density (pHYs), which raw pixels have lost; nor with blur, which sharp applies to premultiplied
 * pixels when its input already has alpha; nor in gray from a source that may have alpha
 * (anything but JPEG), whose alpha sharp's raw gray output drops.
 */
export const PADDED_HERE_MAX_SIZE = 256;

/** True when encodeVariant centres this contain variant here rather than by sharp's contain. */
export function paddedHere(input: Buffer, spec: VariantSpec): boolean {
  if (spec.fit !== 'contain' || spec.size > PADDED_HERE_MAX_SIZE || spec.format === 'png' || spec.blur !== undefined) return false;
  return !spec.grayscale || sniffImageType(input) === 'jpeg';
}

export async function encodeVariant(input: Buffer, spec: VariantSpec, options: VariantEncoderOptions): Promise<Buffer> {
  return encoded(paddedHere(input, spec) ? await containedHere(input, spec, options) : fittedBySharp(input, spec, options), spec, options.encoding);
}

/** The square, in colour or gray, by sharp alone. */
export function fittedBySharp(input: Buffer, spec: VariantSpec, options: VariantEncoderOptions): Sharp {
  // JPEG sources shrink on load (by 2, 4 or 8) before the exact resize: cold renders stay cheap.
  const image = decoded(input, options).resize(spec.size, spec.size, { fit: spec.fit, position: 'centre', background: TRANSPARENT, fastShrinkOnLoad: true });
  return spec.grayscale ? image.grayscale().toColourspace('srgb') : image;
}

/** Contain as fittedBySharp draws it, pixel for pixel: fitted inside the square by sharp, then centred on it here. */
export async function containedHere(input: Buffer, spec: VariantSpec, options: VariantEncoderOptions): Promise<Sharp> {
  const { size } = spec;
  let inside = decoded(input, options).resize(size, size, { fit: 'inside', fastShrinkOnLoad: true });
  if (spec.grayscale) inside = inside.grayscale();
  const { data, info } = await inside.raw().toBuffer({ resolveWithObject: true });
  // Already square: nothing to pad, and sharp's contain adds no alpha either.
  if (info.width === size && info.height === size) {
    const square = sharp(data, { raw: { width: size, height: size, channels: info.channels } });
    return spec.grayscale ? square.toColourspace('srgb') : square;
  }
  return sharp(centredOnTransparent(data, info, size), { raw: { width: size, height: size, channels: 4 } });
}

/** The square blurred when asked, in the format asked. */
export function encoded(image: Sharp, spec: VariantSpec, encoding: VariantEncoding): Promise<Buffer> {
  if (spec.blur !== undefined) image = image.blur(spec.blur);
  switch (spec.format) {
    case 'png':
      return image.png({ compressionLevel: encoding.pngCompressionLevel, adaptiveFiltering: false }).toBuffer();
    case 'webp':
      return image.webp({ quality: 80, effort: encoding.webpEffort }).toBuffer();
    case 'avif':
      return image.avif({ quality: 50, effort: encoding.avifEffort }).toBuffer();
  }
}

function decoded(input: Buffer, options: VariantEncoderOptions): Sharp {
  return sharp(input, { limitInputPixels: options.maxPixels, failOn: 'error' });
}
