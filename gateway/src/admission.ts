// Admission control for publish and ack: at most `limit` of them run at once on this gateway (their
// reads and their two-phase commit), the rest wait in arrival order. Persist and counter serve a
// bounded number of database transactions (their pools); sending them a whole burst at once only
// makes every call wait past its deadline, so contention turned into time-outs. Waiting here
// costs no deadline.
import { createError } from '@notify/lib';

export class Admission {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  /** Transactions waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Transactions holding a slot. */
  get running(): number {
    return this.active;
  }

  /** Runs `work` in a slot; UNAVAILABLE (retry later) when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Resolves with a release function once a slot is free; UNAVAILABLE (retry later) when the queue is full. */
  private async acquire(): Promise<() => void> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) {
        throw createError({ code: 'UNAVAILABLE', message: `${this.maxWaiting} transactions are already waiting; try again shortly`, retryable: true, details: { retryAfterSeconds: 1 } });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}
