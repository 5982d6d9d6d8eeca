// Avatars on request: from the cache when drawn before, else drawn (style, on the event loop, cheap)
// and encoded (sharp, off it) once however many requests ask at the same time (single flight),
// within the limiter's bounds and the render deadline.
import { Counter, Histogram, type Registry } from 'prom-client';
import { createError, LOAD_SHED, METRIC } from '@notify/lib';
import type { AvatarCache, RenderedAvatar } from '../cache/avatar-cache.ts';
import { hashSeed } from '../domain/seed.ts';
import type { AvatarStyle } from '../styles/base.ts';
import { encodePng, strongEtag } from './png-encoder.ts';
import type { RenderLimiter } from './render-limiter.ts';

/** Seconds; a 16 px avatar takes well under a millisecond, a 1024 px one tens of milliseconds. */
const RENDER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface AvatarRendererOptions {
  cache: AvatarCache;
  limiter: RenderLimiter;
  registry: Registry;
  /** zlib level of the PNGs, 0-9. */
  compressionLevel: number;
  /** Longest a request waits for a render, queue included, before TIMEOUT. */
  timeoutMs: number;
}

export class AvatarRenderer {
  /** Renders under way by cache key; every request for the same key waits on the same one. */
  private readonly pending = new Map<string, Promise<RenderedAvatar>>();
  private readonly renders: Counter<'style' | 'outcome'>;
  private readonly refused: Counter<'reason'>;
  private readonly duration: Histogram<'style'>;

  constructor(private readonly options: AvatarRendererOptions) {
    this.renders = new Counter({
      name: METRIC.avatarRendersTotal,
      help: 'Avatars drawn and encoded, by style and outcome (ok, error); cache hits and requests joining a render under way are not counted',
      labelNames: ['style', 'outcome'] as const,
      registers: [options.registry],
    });
    this.duration = new Histogram({
      name: METRIC.avatarRenderDuration,
      help: 'Seconds to draw and encode one avatar (time waiting for a render slot excluded), by style',
      labelNames: ['style'] as const,
      buckets: RENDER_BUCKETS,
      registers: [options.registry],
    });
    this.refused = new Counter({
      name: METRIC.avatarRendersRefusedTotal,
      help: 'Avatar renders refused because the render queue was full (reason overloaded), and requests that stopped waiting for their render (reason timeout)',
      labelNames: ['reason'] as const,
      registers: [options.registry],
    });
  }

  /** The avatar of `seed` in `style` at `size` px: cached, joined, or rendered now. */
  async avatar(style: AvatarStyle, size: number, seed: string): Promise<RenderedAvatar> {
    const key = `${style.name}:${size}:${seed}`;
    const cached = await this.options.cache.get(key);
    if (cached) return cached;
    let render = this.pending.get(key);
    if (!render) {
      render = this.render(key, style, size, seed);
      this.pending.set(key, render);
      // Forgotten once settled (cached by then when it succeeded); a failure is not remembered.
      const forget = () => void this.pending.delete(key);
      render.then(forget, forget);
    }
    return this.withDeadline(render);
  }

  /**
   * `work` counted and timed as one render under `label` (a style name, or `picture` and
   * `generated` for variants of uploaded and generated avatars); its errors are counted and rethrown.
   */
  async counted<T>(label: string, work: () => Promise<T>): Promise<T> {
    const stopTimer = this.duration.startTimer({ style: label });
    try {
      const result = await work();
      this.renders.inc({ style: label, outcome: 'ok' });
      return result;
    } catch (error) {
      this.renders.inc({ style: label, outcome: 'error' });
      throw error;
    } finally {
      stopTimer();
    }
  }

  /** Counts a render the limiter refused (its queue full). */
  countRefusal(error: unknown): void {
    if ((error as { code?: unknown }).code === 'UNAVAILABLE') this.refused.inc({ reason: 'overloaded' });
  }

  private async render(key: string, style: AvatarStyle, size: number, seed: string): Promise<RenderedAvatar> {
    try {
      return await this.options.limiter.run(async () => {
        const stopTimer = this.duration.startTimer({ style: style.name });
        try {
          const png = await encodePng(style.draw(hashSeed(seed), size), this.options.compressionLevel);
          const avatar = { png, etag: strongEtag(png) };
          await this.options.cache.set(key, avatar);
          this.renders.inc({ style: style.name, outcome: 'ok' });
          return avatar;
        } catch (error) {
          this.renders.inc({ style: style.name, outcome: 'error' });
          throw error;
        } finally {
          stopTimer();
        }
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'UNAVAILABLE') this.refused.inc({ reason: 'overloaded' });
      throw error;
    }
  }

  /**
   * `render`, or TIMEOUT after the deadline. The render itself goes on and is cached: the next
   * request for it (a retry) is then a hit.
   */
  async withDeadline<T>(render: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.refused.inc({ reason: 'timeout' });
        // The render goes on: the instance is busy, not broken (see LOAD_SHED).
        reject(createError({ code: 'TIMEOUT', message: `the avatar was not drawn within ${this.options.timeoutMs} ms; try again`, details: { reason: LOAD_SHED } }));
      }, this.options.timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([render, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
