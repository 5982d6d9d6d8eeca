// Bounds the renders running at once (each holds one of libuv's threads while sharp encodes) and
// the renders waiting for a turn; past that bound a render is refused at once, so a burst of
// cold requests meets a clear 503 instead of an ever-growing queue.
import { Gauge, type Registry } from 'prom-client';
import { createError, METRIC } from '@notify/lib';

export interface RenderLimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
  registry: Registry;
}

export class RenderLimiter {
  private active = 0;
  /** FIFO of waiters; `head` moves forward instead of shifting the array. */
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(private readonly options: RenderLimiterOptions) {
    const running = () => this.running;
    const queued = () => this.queued;
    new Gauge({
      name: METRIC.avatarRendersInFlight,
      help: 'Avatar renders drawing or encoding now',
      registers: [options.registry],
      collect() {
        this.set(running());
      },
    });
    new Gauge({
      name: METRIC.avatarRendersQueued,
      help: 'Avatar renders waiting for a free render slot',
      registers: [options.registry],
      collect() {
        this.set(queued());
      },
    });
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Runs `task` when a slot is free; throws UNAVAILABLE (retryable) when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.options.maxConcurrent) {
      this.active += 1;
    } else {
      if (this.queued >= this.options.maxQueued) {
        throw createError({
          code: 'UNAVAILABLE',
          message: `too many avatars being drawn (${this.active} running, ${this.queued} waiting); try again`,
          details: { retryAfterSeconds: 1 },
        });
      }
      // The slot is handed over by `release`, so `active` already counts this task when it wakes.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.head += 1;
      if (this.head > 1_024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      next();
    } else {
      this.active -= 1;
    }
  }
}
