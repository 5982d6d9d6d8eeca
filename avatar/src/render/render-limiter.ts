// Bounds the renders running at once (each holds one of libuv's threads while sharp works) and the
// renders waiting for a turn, with the kit's limiter; past that bound a render is refused at once,
// so a burst of cold requests meets a clear 503 instead of an ever-growing queue. Two of them:
// generated avatars, whose pixels are drawn on the event loop (up to 5 ms at 1024 px), leave a
// core to it; pictures (uploads and variants: decoding, resizing, encoding) run wholly on libuv's
// threads and may use every core.
import { Gauge, type Registry } from 'prom-client';
import { ConcurrencyLimiter, METRIC } from '@notify/lib';

export type RenderKind = 'generated' | 'picture';

export class RenderLimiter extends ConcurrencyLimiter {
  constructor(
    readonly kind: RenderKind,
    readonly maxConcurrent: number,
    maxQueued: number,
  ) {
    super({ maxConcurrent, maxQueued, refusal: (running, queued) => `too many avatars being drawn (${running} running, ${queued} waiting); try again` });
  }
}

export interface RenderLimitersOptions {
  /** Generated avatars drawn and encoded at once. */
  generated: number;
  /** Pictures (uploads, variants) decoded, resized and encoded at once. */
  pictures: number;
  /** Renders of each kind that may wait for a slot; more are refused. */
  maxQueued: number;
  registry: Registry;
}

/** The two limiters, reported as avatar_renders_in_flight and avatar_renders_queued by `kind`. */
export function renderLimiters(options: RenderLimitersOptions): Record<RenderKind, RenderLimiter> {
  const limiters = {
    generated: new RenderLimiter('generated', options.generated, options.maxQueued),
    picture: new RenderLimiter('picture', options.pictures, options.maxQueued),
  };
  const each = (read: (limiter: RenderLimiter) => number) =>
    function (this: Gauge<'kind'>) {
      for (const limiter of Object.values(limiters)) this.set({ kind: limiter.kind }, read(limiter));
    };
  new Gauge({
    name: METRIC.avatarRendersInFlight,
    help: 'Avatar renders drawing or encoding now, by kind (generated, picture)',
    labelNames: ['kind'] as const,
    registers: [options.registry],
    collect: each((limiter) => limiter.running),
  });
  new Gauge({
    name: METRIC.avatarRendersQueued,
    help: 'Avatar renders waiting for a free render slot, by kind (generated, picture)',
    labelNames: ['kind'] as const,
    registers: [options.registry],
    collect: each((limiter) => limiter.queued),
  });
  return limiters;
}
