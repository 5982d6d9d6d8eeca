// Rendered avatars by request (style, size, seed): keyv on an in-memory LRU bounded by PNG bytes and
// by entries. Avatars never change for a given key, so nothing expires; the bounds decide what stays.
import Keyv from 'keyv';
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC } from '@notify/lib';
import { LruByteMap } from '@notify/lib';

/** A rendered avatar: its PNG and the strong ETag of those bytes. */
export interface RenderedAvatar {
  png: Buffer;
  etag: string;
}

export interface AvatarCacheOptions {
  /** PNG bytes held at most; 0 turns the cache off. */
  maxBytes: number;
  maxEntries: number;
  registry: Registry;
}

export class AvatarCache {
  private readonly store: LruByteMap<string, unknown>;
  private readonly keyv: Keyv<RenderedAvatar>;
  private readonly enabled: boolean;
  private readonly hits: Counter.Internal;
  private readonly misses: Counter.Internal;

  constructor(options: AvatarCacheOptions) {
    this.enabled = options.maxBytes > 0;
    const evictions = new Counter({
      name: METRIC.avatarCacheEvictionsTotal,
      help: 'Rendered avatars evicted from the cache to make room (least recently used first)',
      registers: [options.registry],
    });
    this.store = new LruByteMap({
      maxBytes: options.maxBytes,
      maxEntries: options.maxEntries,
      sizeOf: pngBytes,
      onEvict: () => evictions.inc(),
    });
    // No serialisation: the store is in this process, and a Buffer through JSON would cost a copy
    // (and base64) on every hit.
    this.keyv = new Keyv<RenderedAvatar>({ store: this.store, namespace: 'avatar', serialization: false });
    const requests = new Counter({
      name: METRIC.avatarCacheRequestsTotal,
      help: 'Avatar cache lookups by result (hit, miss)',
      labelNames: ['result'] as const,
      registers: [options.registry],
    });
    this.hits = requests.labels({ result: 'hit' });
    this.misses = requests.labels({ result: 'miss' });
    const store = this.store;
    new Gauge({
      name: METRIC.avatarCacheBytes,
      help: 'PNG bytes held in the avatar cache',
      registers: [options.registry],
      collect() {
        this.set(store.bytes);
      },
    });
    new Gauge({
      name: METRIC.avatarCacheEntries,
      help: 'Rendered avatars held in the avatar cache',
      registers: [options.registry],
      collect() {
        this.set(store.size);
      },
    });
  }

  async get(key: string): Promise<RenderedAvatar | undefined> {
    const found = this.enabled ? await this.keyv.get(key) : undefined;
    (found ? this.hits : this.misses).inc();
    return found;
  }

  async set(key: string, avatar: RenderedAvatar): Promise<void> {
    if (this.enabled) await this.keyv.set(key, avatar);
  }

  /** Forgets every rendered avatar (operators and tests: the next requests render again). */
  clear(): void {
    this.store.clear();
  }

  /** Entries and bytes held now, for /status. */
  usage(): { entries: number; bytes: number } {
    return { entries: this.store.size, bytes: this.store.bytes };
  }
}

/**
 * The PNG's length. keyv wraps what it stores in `{ value, expires }` envelopes (one per layer, and
 * their number is keyv's business), so the avatar is found by unwrapping `value` until it appears.
 */
function pngBytes(stored: unknown): number {
  let current = stored;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const png = (current as Partial<RenderedAvatar>).png;
    if (Buffer.isBuffer(png)) return png.byteLength;
    current = (current as { value?: unknown }).value;
  }
  return 0;
}
