// A topic's subscriber list (with the topic's name and creator, and who muted it or wants no
// email), the hot read of every publication, cached (keyv) for SUBSCRIBERS_CACHE_TTL_MS and evicted
// on every gateway when a subscription or its preferences change. A stale list is never silently
// used: a publication to "all subscribers" tells persist so, and names who it treats as muted or
// opted out; persist votes no when either is not the current one (the publication then reads again).
import type { Topic } from '@notify/lib/rpc';
import type { Config } from './config.ts';
import { GuardedCache } from './guarded-cache.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstreams } from './upstreams.ts';

/** Persist's largest page of subscribers. */
const PAGE = 10_000;

export interface Audience {
  topic: Pick<Topic, 'id' | 'name' | 'creatorId'>;
  subscribers: string[];
  /** Subscribers who muted the topic: no push, no unread, no email. */
  muted: string[];
  /** Subscribers who want no email of the topic (its own switch, or all email off). */
  emailOptOut: string[];
}

export class SubscribersCache {
  private readonly cache: GuardedCache<Audience>;
  private readonly loading = new Map<string, { stamp: number; audience: Promise<Audience> }>();

  constructor(
    private readonly upstreams: Pick<Upstreams, 'persist'>,
    config: Readonly<Config>,
    private readonly metrics: GatewayMetrics,
  ) {
    this.cache = new GuardedCache('subscribers', { ttlMs: config.SUBSCRIBERS_CACHE_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES });
  }

  /** A live topic and every subscriber, from cache unless `fresh`; NOT_FOUND for an unknown topic. */
  async get(topicId: string, actingUserId: string, options: { fresh?: boolean } = {}): Promise<Audience> {
    if (!options.fresh) {
      const cached = await this.cache.get(topicId);
      if (cached) {
        this.metrics.cache.inc({ cache: 'subscribers', result: 'hit' });
        return cached;
      }
    }
    this.metrics.cache.inc({ cache: 'subscribers', result: 'miss' });
    // Concurrent misses share one read (a burst of publishes to a cold topic is one read, not
    // hundreds), unless an eviction came since that read began: then its answer may be stale.
    const stamp = this.cache.stamp();
    const running = this.loading.get(topicId);
    if (running && running.stamp === stamp) return running.audience;
    const audience = this.load(topicId, actingUserId, stamp).finally(() => {
      if (this.loading.get(topicId)?.audience === audience) this.loading.delete(topicId);
    });
    this.loading.set(topicId, { stamp, audience });
    return audience;
  }

  private async load(topicId: string, actingUserId: string, stamp: number): Promise<Audience> {
    const subscribers: string[] = [];
    const muted: string[] = [];
    const emailOptOut: string[] = [];
    let topic: Audience['topic'] | undefined;
    let cursor: string | null = null;
    do {
      const page = await this.upstreams.persist.listSubscribers({ params: { id: topicId }, query: { limit: PAGE, ...(cursor ? { cursor } : {}) } }, { user: actingUserId });
      subscribers.push(...page.subscribers);
      muted.push(...page.muted);
      emailOptOut.push(...page.emailOptOut);
      topic ??= { id: page.topic.id, name: page.topic.name, creatorId: page.topic.creatorId };
      cursor = page.nextCursor;
    } while (cursor);
    const audience = { topic: topic!, subscribers, muted, emailOptOut };
    await this.cache.store(topicId, audience, stamp);
    return audience;
  }

  async evict(topicId: string): Promise<void> {
    await this.cache.evict(topicId);
  }
}
