// The node-local caches of sessions and users (keyv on a bounded Map), read through to the database.
// Entries live at most CACHE_TTL_MS, so a missed invalidation cannot outlive that.
//
// A read-through races with invalidations: a miss reads the database, an invalidation (a logout
// here or on a peer) arrives while that read is in flight, and the read's answer, older than the
// invalidation, must not be stored. Each cache has a generation, bumped by every invalidate() and
// clear() before it deletes anything; a load stores its answer only if the generation it saw
// before reading is still current, after the store as well as before.
import Keyv from 'keyv';
import type { PublicUser } from '../domain/schemas.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { SessionRecord } from '../store/sessions.ts';
import { BoundedMap } from '@notify/lib';

export type CacheName = 'session' | 'user';

/** One invalidation: the entry `key` of cache `cache` is stale. */
export interface Invalidation {
  cache: CacheName;
  key: string;
}

export class AuthCache {
  private readonly sessions: Keyv<SessionRecord>;
  private readonly users: Keyv<PublicUser>;
  private readonly generation: Record<CacheName, number> = { session: 0, user: 0 };

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
    const seen = this.generation.session;
    const loaded = await load();
    if (loaded) await this.store('session', tokenHash, loaded, seen, Math.min(this.ttlMs, loaded.expiresAt - Date.now()));
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
    const seen = this.generation.user;
    const loaded = await load();
    if (loaded) await this.store('user', id, loaded, seen);
    return loaded;
  }

  async invalidate(invalidations: readonly Invalidation[]): Promise<void> {
    // Bumped before any await: a load already in flight must not store what it read.
    for (const { cache } of invalidations) this.generation[cache] += 1;
    await Promise.all(invalidations.map(({ cache, key }) => (cache === 'session' ? this.sessions : this.users).delete(key)));
  }

  /** Drops everything: after a replication gap nothing cached can be trusted. */
  async clear(): Promise<void> {
    this.generation.session += 1;
    this.generation.user += 1;
    await Promise.all([this.sessions.clear(), this.users.clear()]);
  }

  /** Stores a loaded value unless an invalidation came after the load began (checked before and after the write). */
  private async store(cache: CacheName, key: string, value: SessionRecord | PublicUser, seen: number, ttlMs?: number): Promise<void> {
    if (this.generation[cache] !== seen) return;
    const store = (cache === 'session' ? this.sessions : this.users) as Keyv<SessionRecord | PublicUser>;
    await store.set(key, value, ttlMs);
    // An invalidation that arrived while the write was under way may have deleted before it landed.
    if (this.generation[cache] !== seen) await store.delete(key);
  }
}
