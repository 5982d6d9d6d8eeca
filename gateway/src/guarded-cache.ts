// The gateway's caches (tokens, subscriber lists): keyv on a bounded Map, with a guard against a
// load racing an eviction. A load reads upstream, an eviction (a logout, a subscription change,
// here or on another gateway) arrives while that read is in flight, and the read's answer, older
// than the eviction, must not be stored. Every eviction bumps a generation; a load takes a stamp
// before reading and stores only if no eviction came since, checked after the store as well.
import Keyv from 'keyv';
import { BoundedMap } from '@notify/lib';

export class GuardedCache<T> {
  private readonly cache: Keyv<T>;
  private generation = 0;

  /** `ttlMs` 0 turns the cache off: nothing is served or stored. */
  constructor(
    namespace: string,
    private readonly options: { ttlMs: number; maxEntries: number },
  ) {
    // In-process only: values are kept as they are, not serialised (a hit on a 10,000-user list
    // would otherwise parse it again). Callers treat what they get as read-only.
    this.cache = new Keyv<T>({ store: new BoundedMap(options.maxEntries), namespace, ttl: options.ttlMs, serialization: false });
  }

  async get(key: string): Promise<T | undefined> {
    return this.options.ttlMs > 0 ? this.cache.get(key) : undefined;
  }

  /** Take before loading; `store` refuses an answer loaded before a later eviction. */
  stamp(): number {
    return this.generation;
  }

  /** Stores `value` for at most `ttlMs` (default the cache's TTL) unless an eviction came after `stamp`. */
  async store(key: string, value: T, stamp: number, ttlMs = this.options.ttlMs): Promise<void> {
    const ttl = Math.min(ttlMs, this.options.ttlMs);
    if (ttl <= 0 || stamp !== this.generation) return;
    await this.cache.set(key, value, ttl);
    // An eviction may have run while the set was in flight: it wins.
    if (stamp !== this.generation) await this.cache.delete(key);
  }

  async evict(key: string): Promise<void> {
    this.generation += 1;
    await this.cache.delete(key);
  }
}
