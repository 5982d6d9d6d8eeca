// Pictures' bytes read recently, kept in memory (bounded by bytes, least recently used evicted):
// after an upload its variants are asked for together (32, 64, 128 px, grayscale, …), and each
// render needs the same original or working copy. A version is a digest of its bytes, so a kept
// entry is never out of date; this instance forgets a version when it stores or removes it.
// Nothing reaches a version's bytes without first reading the user's current version, so bytes
// another instance removed are never served from here.
import { Counter, type Registry } from 'prom-client';
import { LruByteMap, METRIC } from '@notify/lib';
import type { PictureBytesStore } from './picture-bytes.ts';

export class CachedPictureBytes implements PictureBytesStore {
  private readonly kept: LruByteMap<string, Buffer>;
  private readonly fromMemory: Counter.Internal;
  private readonly fromStore: Counter.Internal;

  /** `maxBytes` 0: nothing kept, every read goes to `store`. */
  constructor(
    private readonly store: PictureBytesStore,
    options: { maxBytes: number; registry: Registry },
  ) {
    this.kept = new LruByteMap({ maxBytes: options.maxBytes, maxEntries: Number.MAX_SAFE_INTEGER, sizeOf: (bytes) => bytes.byteLength });
    const reads = new Counter({
      name: METRIC.avatarPictureReadsTotal,
      help: 'Reads of stored pictures’ bytes (originals and working copies) by where they came from (memory, store)',
      labelNames: ['from'] as const,
      registers: [options.registry],
    });
    this.fromMemory = reads.labels({ from: 'memory' });
    this.fromStore = reads.labels({ from: 'store' });
  }

  get kind(): PictureBytesStore['kind'] {
    return this.store.kind;
  }

  async put(userId: string, version: string, bytes: Buffer, contentType: string): Promise<void> {
    this.kept.delete(key(userId, version));
    await this.store.put(userId, version, bytes, contentType);
  }

  async get(userId: string, version: string): Promise<Buffer | null> {
    const kept = this.kept.get(key(userId, version));
    if (kept) {
      this.fromMemory.inc();
      return kept;
    }
    this.fromStore.inc();
    const bytes = await this.store.get(userId, version);
    if (bytes) this.kept.set(key(userId, version), bytes);
    return bytes;
  }

  async delete(userId: string, version: string): Promise<void> {
    this.kept.delete(key(userId, version));
    await this.store.delete(userId, version);
  }

  close(): Promise<void> {
    this.kept.clear();
    return this.store.close();
  }
}

const key = (userId: string, version: string) => `${userId}/${version}`;
