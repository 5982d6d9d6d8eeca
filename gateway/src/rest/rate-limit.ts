// A token bucket per API key on this gateway instance: API_KEY_RATE_PER_SECOND on average, bursts
// up to API_KEY_BURST. Buckets live in a bounded map (the least recently refilled key is forgotten
// first, which only ever gives that key a full bucket again).
import { BoundedMap } from '@notify/lib';

interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

export class KeyRateLimiter {
  private readonly buckets: BoundedMap<string, Bucket>;

  constructor(
    private readonly o: {
      /** Tokens added a second; 0: no limit. */
      ratePerSecond: number;
      burst: number;
      maxKeys: number;
      now?: () => number;
    },
  ) {
    this.buckets = new BoundedMap(o.maxKeys);
  }

  /** Takes one token of the key's bucket: 0 when it had one, else the seconds until it will. */
  take(keyId: string): number {
    if (this.o.ratePerSecond === 0) return 0;
    const now = (this.o.now ?? Date.now)();
    const bucket = this.buckets.get(keyId) ?? { tokens: this.o.burst, at: now };
    bucket.tokens = Math.min(this.o.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.o.ratePerSecond);
    bucket.at = now;
    // Re-inserted so the map's order is least recently used first.
    this.buckets.delete(keyId);
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.o.ratePerSecond;
  }
}
