// avatar's environment: the kit's base keys, its database, the cache's bounds, render concurrency
// and deadline, PNG compression, the style of URLs that name none, and uploaded pictures' limits,
// bytes store and pre-rendered variants.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';
import { PICTURE_MAX_BYTES } from '@notify/lib/contracts';
import { databaseConfigShape } from '@notify/lib/db';
import { parsePrerenderVariants } from './domain/variant-request.ts';
import { checkS3Config, s3ConfigShape } from './store/s3-picture-bytes.ts';
import { STYLE_NAMES } from './styles/resolve.ts';

export const configSchema = z.object({
  ...baseConfigShape({ port: 9000 }),
  // An upload is at most PICTURE_MAX_BYTES; its route reads the body itself and answers 413 past that.
  BODY_LIMIT_BYTES: env.int(PICTURE_MAX_BYTES, 'Largest request body accepted (uploaded pictures: 5 MiB, refused with 413 beyond)', 1_024),
  ...databaseConfigShape('avatar'),
  // 64 MiB holds about 45,000 identicons or 120,000 github avatars at 128 px (about 1.4 KB and 0.5 KB each).
  CACHE_MAX_BYTES: env.int(67_108_864, 'PNG bytes the avatar cache holds at most (least recently used evicted first); 0 turns the cache off', 0),
  CACHE_MAX_ENTRIES: env.int(100_000, 'Avatars the cache holds at most, whatever their size', 1),
  // One core is left to the event loop: encoders on every core starve it (on 2 cores, 4 encoders
  // made /health's median 25 ms during 1024 px renders; 1 encoder, 2 ms). libuv's pool has 4
  // threads unless UV_THREADPOOL_SIZE says otherwise; more renders at once than that only wait there.
  MAX_CONCURRENT_RENDERS: env.int(
    Math.max(1, availableParallelism() - 1),
    'Generated avatars drawn and encoded at once (each encodes on one of libuv’s threads); others wait their turn. Default: CPU cores - 1, at least 1',
    1,
  ),
  // Decoding, resizing and encoding all run on libuv's threads, never on the event loop.
  MAX_CONCURRENT_PICTURE_RENDERS: env.int(
    availableParallelism(),
    'Uploaded pictures normalised and variants rendered at once (each on one of libuv’s threads); others wait their turn. Default: CPU cores',
    1,
  ),
  MAX_QUEUED_RENDERS: env.int(1_000, 'Renders of each kind (generated avatars, pictures) that may wait for a slot; more are refused with UNAVAILABLE (503, Retry-After: 1)', 0),
  RENDER_TIMEOUT_MS: env.int(10_000, 'Longest a request waits for its avatar to be drawn, queue included, before TIMEOUT (504); the render still finishes and is cached', 1),
  PNG_COMPRESSION_LEVEL: z.coerce.number().int().min(0).max(9).default(6).describe('zlib level of the PNGs: 0 fastest to 9 smallest (9 halves identicon throughput for 10 % fewer bytes)'),
  DEFAULT_STYLE: z.enum(STYLE_NAMES).default('identicon').describe(`Style of avatars whose URL names none (${STYLE_NAMES.join(', ')})`),
  // 40 megapixels: any phone's photo; its header is read first, so a bigger one is never decoded.
  PICTURE_MAX_PIXELS: env.int(40_000_000, 'Most pixels an uploaded picture may declare (width × height); more is refused with 400 image_too_many_pixels before decoding', 1),
  PICTURE_MAX_SIDE: env.int(1_024, 'Longest side, in pixels, of the stored original of an uploaded picture (larger uploads are scaled down)', 16),
  // 32 MiB holds the working copies (about 50 KB each) of some 600 pictures.
  PICTURE_READ_CACHE_BYTES: env.int(33_554_432, 'Bytes of stored pictures (originals, working copies) kept in memory once read, for their next variants (least recently used evicted first); 0 turns it off', 0),
  PICTURE_STORE: z.enum(['postgres', 's3']).default('postgres').describe('Where the bytes of uploaded pictures live: postgres (the avatar database) or s3'),
  ...s3ConfigShape,
  PRERENDER_VARIANTS: z
    .string()
    .default('32:webp,64:webp,128:webp,128:png,256:webp')
    .transform((text, context) => {
      try {
        return parsePrerenderVariants(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .describe('Variants (size:format, comma-separated) rendered in the background after an upload, below requests; none: no pre-rendering'),
  WEBP_EFFORT: z.coerce.number().int().min(0).max(6).default(2).describe('CPU effort of WebP variants: 0 fastest to 6 smallest'),
  AVIF_EFFORT: z.coerce.number().int().min(0).max(9).default(2).describe('CPU effort of AVIF variants: 0 fastest to 9 smallest'),
}).superRefine(checkS3Config);

export type Config = z.infer<typeof configSchema>;
