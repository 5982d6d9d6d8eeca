// A Map bounded by total bytes and by entry count, evicting the least recently used: the byte
// caches of rendered pictures (the avatar service's keyv store, the gateway's variants). Reads refresh an entry (Map order is insertion order, so a read re-inserts).

export interface LruByteMapOptions<V> {
  /** Sum of `sizeOf` over the entries never exceeds this; an entry alone larger is not stored. */
  maxBytes: number;
  maxEntries: number;
  /** Bytes an entry counts for. */
  sizeOf: (value: V) => number;
  /** Called for each entry pushed out to make room (not for deletes or overwrites). */
  onEvict?: (key: unknown, bytes: number) => void;
}

export class LruByteMap<K, V> extends Map<K, V> {
  private totalBytes = 0;
  private readonly sizes = new Map<K, number>();
  /** The most recently used key, when known: reading it again needs no re-insert. */
  private hasNewest = false;
  private newest: K | undefined;

  constructor(private readonly options: LruByteMapOptions<V>) {
    super();
  }

  /** Bytes held now, as counted by `sizeOf`. */
  get bytes(): number {
    return this.totalBytes;
  }

  override get(key: K): V | undefined {
    const value = super.get(key);
    if (value !== undefined && (!this.hasNewest || this.newest !== key)) {
      // Most recently used goes last; eviction takes from the front.
      super.delete(key);
      super.set(key, value);
      this.hasNewest = true;
      this.newest = key;
    }
    return value;
  }

  override set(key: K, value: V): this {
    const bytes = this.options.sizeOf(value);
    this.delete(key);
    if (bytes > this.options.maxBytes || this.options.maxEntries < 1) return this;
    while (this.size > 0 && (this.totalBytes + bytes > this.options.maxBytes || this.size >= this.options.maxEntries)) {
      const oldest = this.keys().next().value as K;
      const evicted = this.sizes.get(oldest) ?? 0;
      this.delete(oldest);
      this.options.onEvict?.(oldest, evicted);
    }
    super.set(key, value);
    this.sizes.set(key, bytes);
    this.totalBytes += bytes;
    this.hasNewest = true;
    this.newest = key;
    return this;
  }

  override delete(key: K): boolean {
    const bytes = this.sizes.get(key);
    if (bytes !== undefined) {
      this.totalBytes -= bytes;
      this.sizes.delete(key);
    }
    if (this.hasNewest && this.newest === key) this.forgetNewest();
    return super.delete(key);
  }

  override clear(): void {
    super.clear();
    this.sizes.clear();
    this.totalBytes = 0;
    this.forgetNewest();
  }

  private forgetNewest(): void {
    this.hasNewest = false;
    this.newest = undefined;
  }
}
