// Variants of anyone's avatar (size, format, fit, grayscale, blur): of the uploaded picture's stored
// original when the user has one, else of the generated avatar seeded by the user id (version
// `generated`). Each is rendered once: from the shared bytes-bounded cache when rendered before,
// else once however many requests ask at the same time (single flight), within the render limiter
// and the render deadline; encoded by ./variant-encoder.ts.
import { createHash } from 'node:crypto';
import { ConcurrencyLimiter, createError } from '@notify/lib';
import type { AvatarCache, RenderedAvatar } from '../cache/avatar-cache.ts';
import { variantKey, type VariantSpec } from '../domain/variant-request.ts';
import type { PictureBytesStore } from '../store/picture-bytes.ts';
import type { PictureTable } from '../store/pictures.ts';
import type { AvatarStyle } from '../styles/base.ts';
import type { AvatarRenderer } from './avatar-renderer.ts';
import { sourcesFor } from './picture-normaliser.ts';
import { LIBVIPS_VERSION } from './png-encoder.ts';
import type { RenderLimiter } from './render-limiter.ts';
import { encodeVariant, type VariantEncoding } from './variant-encoder.ts';

export const GENERATED = 'generated';

export interface VariantRendererOptions {
  cache: AvatarCache;
  limiter: RenderLimiter;
  /** Draws generated avatars (and owns the render metrics and the deadline). */
  avatars: AvatarRenderer;
  pictures: PictureTable;
  store: PictureBytesStore;
  /** The style of generated avatars. */
  style: AvatarStyle;
  encoding: VariantEncoding;
  /** sharp's limitInputPixels on stored originals (they are at most PICTURE_MAX_SIDE², far below). */
  maxPixels: number;
  /** Renders that may wait (for their original's bytes, then a render slot); more are refused (503). */
  maxQueued: number;
}

/**
 * Originals read from the store at once. A render slot is taken only once the bytes are here, so
 * reading the next originals overlaps encoding; and at most this many originals wait in memory.
 */
const ORIGINALS_IN_FLIGHT = 8;

/** A variant's bytes; `png` holds them whatever the format (the cache's field name). */
export type RenderedVariant = RenderedAvatar;

export class VariantRenderer {
  private readonly pending = new Map<string, Promise<RenderedVariant>>();
  private readonly reads: ConcurrencyLimiter;

  constructor(private readonly options: VariantRendererOptions) {
    this.reads = new ConcurrencyLimiter({
      maxConcurrent: ORIGINALS_IN_FLIGHT,
      maxQueued: options.maxQueued,
      refusal: (running, queued) => `too many avatars being drawn (${running} reading, ${queued} waiting); try again`,
    });
  }

  /** The user's current version (the stored picture's, or `generated`) and, for a picture, its longest side. */
  async current(userId: string): Promise<{ version: string; side?: number }> {
    return (await this.options.pictures.current(userId)) ?? { version: GENERATED };
  }

  /**
   * The strong ETag of a variant, known before rendering it: from the version, the variant, the
   * encoder settings and libvips' version (generated avatars: their style too).
   */
  etag(userId: string, version: string, spec: VariantSpec): string {
    const { encoding, style } = this.options;
    const encoder = `${encoding.pngCompressionLevel}:${encoding.webpEffort}:${encoding.avifEffort}`;
    const source = version === GENERATED ? `${GENERATED}:${style.name}:${userId}` : version;
    const digest = createHash('sha256').update(`${source}|${variantKey(spec)}|${encoder}|${LIBVIPS_VERSION}`).digest('base64url');
    return `"${digest.slice(0, 22)}"`;
  }

  /**
   * The variant of `version` of the user's avatar: cached, joined, or rendered now (within the
   * deadline unless `background`). `side`, the picture's longest side when known, spares reading
   * working copies it is too small to have.
   */
  async variant(userId: string, version: string, spec: VariantSpec, options: { background?: boolean; side?: number } = {}): Promise<RenderedVariant> {
    const { background = false, side } = options;
    const key = `variant:${userId}:${version}:${variantKey(spec)}`;
    const cached = await this.options.cache.get(key);
    if (cached) return cached;
    let render = this.pending.get(key);
    if (!render) {
      render = this.render(key, userId, version, spec, side);
      this.pending.set(key, render);
      // Forgotten once settled (cached by then when it succeeded); a failure is not remembered.
      const forget = () => void this.pending.delete(key);
      render.then(forget, forget);
    }
    return background ? render : this.options.avatars.withDeadline(render);
  }

  private async render(key: string, userId: string, version: string, spec: VariantSpec, side: number | undefined): Promise<RenderedVariant> {
    const { avatars, cache } = this.options;
    if (version === GENERATED) {
      // The generated avatar at this size, itself cached and single-flight; a plain PNG is it as it is.
      const base = await avatars.avatar(this.options.style, spec.size, userId);
      if (spec.format === 'png' && !spec.grayscale && spec.blur === undefined) {
        const variant = { png: base.png, etag: this.etag(userId, version, spec) };
        await cache.set(key, variant);
        return variant;
      }
      return this.encoded(key, GENERATED, () => Promise.resolve(base.png), userId, version, spec);
    }
    return this.encoded(key, 'picture', () => this.original(userId, version, spec.size, side), userId, version, spec);
  }

  /** The bytes a variant of this size is rendered from: the smallest working copy big enough, when the picture has one, else the original. */
  private async original(userId: string, version: string, size: number, side: number | undefined): Promise<Buffer> {
    let bytes: Buffer | null = null;
    for (const source of sourcesFor(version, size, side)) if ((bytes = await this.options.store.get(userId, source))) break;
    // The table named this version and its bytes are gone: replaced or removed since; the caller retries.
    if (!bytes) throw createError({ code: 'UNAVAILABLE', message: 'the picture changed while it was read; try again', retryable: true, details: { retryAfterSeconds: 1 } });
    return bytes;
  }

  private async encoded(key: string, label: string, source: () => Promise<Buffer>, userId: string, version: string, spec: VariantSpec): Promise<RenderedVariant> {
    const { avatars, limiter, cache } = this.options;
    try {
      return await this.reads.run(async () => {
        const input = await source();
        return limiter.run(() =>
          avatars.counted(label, async () => {
            const bytes = await encodeVariant(input, spec, this.options);
            const variant = { png: bytes, etag: this.etag(userId, version, spec) };
            await cache.set(key, variant);
            return variant;
          }),
        );
      });
    } catch (error) {
      avatars.countRefusal(error);
      throw error;
    }
  }
}
