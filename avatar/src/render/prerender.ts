// After an upload, the variants most pages ask for (PRERENDER_VARIANTS) are rendered in the
// background so the first requests find them cached. Below requests: one at a time, and only while
// the render limiter has a free slot and nobody waits for one; a request arriving meanwhile goes first.
import type { FastifyBaseLogger } from 'fastify';
import type { VariantSpec } from '../domain/variant-request.ts';
import type { RenderLimiter } from './render-limiter.ts';
import type { VariantRenderer } from './variant-renderer.ts';

/** How often a waiting pre-render looks again for an idle slot. */
const IDLE_POLL_MS = 20;
/** Uploads whose pre-renders may wait; older ones are dropped (their variants render on request). */
const MAX_WAITING_JOBS = 1_000;

interface Job {
  userId: string;
  version: string;
  spec: VariantSpec;
}

export class Prerenderer {
  private readonly jobs: Job[] = [];
  private pumping = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      variants: readonly VariantSpec[];
      renderer: VariantRenderer;
      limiter: RenderLimiter;
      maxConcurrent: number;
      log: FastifyBaseLogger;
    },
  ) {}

  /** Queues the pre-renders of this version of the user's picture. */
  schedule(userId: string, version: string): void {
    if (this.closed || this.options.variants.length === 0) return;
    for (const spec of this.options.variants) this.jobs.push({ userId, version, spec });
    while (this.jobs.length > MAX_WAITING_JOBS * this.options.variants.length) this.jobs.shift();
    void this.pump();
  }

  /** Pre-renders waiting. */
  get waiting(): number {
    return this.jobs.length;
  }

  close(): void {
    this.closed = true;
    this.jobs.length = 0;
    clearTimeout(this.timer);
  }

  private idle(): boolean {
    const { limiter, maxConcurrent } = this.options;
    return limiter.queued === 0 && limiter.running < maxConcurrent;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.jobs.length > 0) {
        if (!this.idle()) {
          await new Promise<void>((resolve) => {
            this.timer = setTimeout(resolve, IDLE_POLL_MS);
            this.timer.unref();
          });
          continue;
        }
        const job = this.jobs.shift()!;
        try {
          // Joins a request's render of the same variant if one is under way; a hit costs nothing.
          await this.options.renderer.variant(job.userId, job.version, job.spec, { background: true });
        } catch (error) {
          this.options.log.warn({ err: error, userId: job.userId }, 'pre-render failed (the variant renders on request)');
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
