// The node-local caches of sessions and users (keyv on a bounded Map), read through to the database.
// Entries live at most CACHE_TTL_MS, so a missed invalidation cannot outlive that.
import Keyv from 'keyv';
import type { PublicUser } from '../domain/schemas.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { SessionRecord } from '../store/sessions.ts';
import { BoundedMap } from './bounded-map.ts';

export type CacheName = 'session' | 'user';

/** One invalidation: the entry `key` of cache `cache` is stale. */
export interface Invalidation {
  cache: CacheName;
  key: string;
}

export class AuthCache {
  private readonly sessions: Keyv<SessionRecord>;
  private readonly users: Keyv<PublicUser>;

  private readonly ttlMs: number;

  constructor(
    options: { ttlMs: number; maxEntries: number },
    private readonly metrics: AuthMetrics,
  ) {
    this.ttlMs = options.ttlMs;
    this.sessions = new Keyv<SessionRecord>({ store: new BoundedMap(options.maxEntries), namespace: 'session', ttl: options.ttlMs });
    this.users = new Keyv<PublicUser>({ store: new BoundedMap(options.maxEntries), namespace: 'user', ttl: options.ttlMs });
  }

  /** The live session of a token hash, from cache or `load`; an expired cached session is never served. */
  async session(tokenHash: string, load: () => Promise<SessionRecord | null>): Promise<SessionRecord | null> {
    const cached = await this.sessions.get(tokenHash);
    if (cached && cached.expiresAt > Date.now()) {
      this.metrics.cache.inc({ cache: 'session', result: 'hit' });
      return cached;
    }
    this.metrics.cache.inc({ cache: 'session', result: 'miss' });
    const loaded = await load();
    if (loaded) await this.sessions.set(tokenHash, loaded, Math.min(this.ttlMs, loaded.expiresAt - Date.now()));
    else if (cached) await this.sessions.delete(tokenHash);
    return loaded;
  }

  async user(id: string, load: () => Promise<PublicUser | null>): Promise<PublicUser | null> {
    const cached = await this.users.get(id);
    if (cached) {
      this.metrics.cache.inc({ cache: 'user', result: 'hit' });
      return cached;
    }
    this.metrics.cache.inc({ cache: 'user', result: 'miss' });
    const loaded = await load();
    if (loaded) await this.users.set(id, loaded);
    return loaded;
  }

  async invalidate(invalidations: readonly Invalidation[]): Promise<void> {
    await Promise.all(invalidations.map(({ cache, key }) => (cache === 'session' ? this.sessions : this.users).delete(key)));
  }

  /** Drops everything: after a replication gap nothing cached can be trusted. */
  async clear(): Promise<void> {
    await Promise.all([this.sessions.clear(), this.users.clear()]);
  }
}
