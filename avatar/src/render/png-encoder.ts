// Raw pixels to PNG with sharp. The encoding (zlib, the costly part) runs on libuv's thread pool,
// never on the event loop; the JS side only hands sharp the buffer.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { RawImage } from '../styles/base.ts';

// Each avatar is drawn once, so libvips' operation cache would only hold memory; and one libvips
// thread per image: images are small, and parallelism comes from encoding several at once.
sharp.cache(false);
sharp.concurrency(1);

/** libvips' version, for /status: PNG bytes (and so ETags) may differ between versions. */
export const LIBVIPS_VERSION = sharp.versions.vips;

/** Encodes `image` as an 8-bit RGB PNG; `compressionLevel` 0 (fastest) to 9 (smallest). No metadata, so equal pixels give equal bytes. */
export async function encodePng(image: RawImage, compressionLevel: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .png({ compressionLevel, adaptiveFiltering: false })
    .toBuffer();
}

/** A strong ETag for `png`: 128 bits of its SHA-256, quoted. */
export function strongEtag(png: Buffer): string {
  return `"${createHash('sha256').update(png).digest('base64url').slice(0, 22)}"`;
}
