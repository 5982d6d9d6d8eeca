// A topic's subscriber list, the hot read of every publication, cached (keyv) for
// SUBSCRIBERS_CACHE_TTL_MS and evicted on every gateway when a subscription changes. A stale list
// is never silently used: a publication to "all subscribers" tells persist so, and persist votes
// no when the list it is given is not the whole current one (the publication then reads again).
import type { Config } from './config.ts';
import { GuardedCache } from './guarded-cache.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstreams } from './upstreams.ts';

/** Persist's largest page of subscribers. */
const PAGE = 10_000;

export class SubscribersCache {
  private readonly cache: GuardedCache<string[]>;

  constructor(
    private readonly upstreams: Upstreams,
    config: Readonly<Config>,
    private readonly metrics: GatewayMetrics,
  ) {
    this.cache = new GuardedCache('subscribers', { ttlMs: config.SUBSCRIBERS_CACHE_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES });
  }

  /** Every subscriber of a live topic, from cache unless `fresh`; NOT_FOUND for an unknown topic. */
  async get(topicId: string, actingUserId: string, options: { fresh?: boolean } = {}): Promise<string[]> {
    if (!options.fresh) {
      const cached = await this.cache.get(topicId);
      if (cached) {
        this.metrics.cache.inc({ cache: 'subscribers', result: 'hit' });
        return cached;
      }
    }
    this.metrics.cache.inc({ cache: 'subscribers', result: 'miss' });
    const stamp = this.cache.stamp();
    const subscribers: string[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(PAGE), ...(cursor ? { cursor } : {}) });
      const page: { subscribers: string[]; nextCursor: string | null } = await this.upstreams.call('persist', {
        method: 'GET',
        path: `/api/topics/${topicId}/subscribers?${query}`,
        userId: actingUserId,
        idempotent: true,
      });
      subscribers.push(...page.subscribers);
      cursor = page.nextCursor;
    } while (cursor);
    await this.cache.store(topicId, subscribers, stamp);
    return subscribers;
  }

  async evict(topicId: string): Promise<void> {
    await this.cache.evict(topicId);
  }
}
