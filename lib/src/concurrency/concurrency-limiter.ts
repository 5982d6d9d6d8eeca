// Bounds the tasks running at once and those waiting for a turn (in arrival order); past that
// bound a task is refused at once with UNAVAILABLE and a Retry-After, so a burst meets a clear 503
// instead of an ever-growing queue or a crowd of calls running past their deadlines.
import { createError, LOAD_SHED } from '../errors.ts';

export interface ConcurrencyLimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
  /** The refusal's message, given the tasks running and waiting. */
  refusal: (running: number, queued: number) => string;
}

export class ConcurrencyLimiter {
  private active = 0;
  /** FIFO of waiters; `head` moves forward instead of shifting the array. */
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(private readonly limits: ConcurrencyLimiterOptions) {}

  /** Tasks holding a slot. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Runs `task` when a slot is free; throws UNAVAILABLE (retryable, retry after 1 s) when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limits.maxConcurrent) {
      this.active += 1;
    } else {
      if (this.queued >= this.limits.maxQueued) {
        throw createError({ code: 'UNAVAILABLE', message: this.limits.refusal(this.active, this.queued), details: { retryAfterSeconds: 1, reason: LOAD_SHED } });
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
