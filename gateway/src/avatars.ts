// Where a user's avatar is on this gateway: `<AVATAR_BASE_PATH>/<userId>?v=<version>`, for users.me
// and for the publisher of each notification a client is handed. The version changes with the
// picture, so a client may cache a versioned URL for ever. Versions are read from the avatar
// service in batches and kept here (bounded, AVATAR_VERSIONS_TTL_MS); an upload or removal through
// any gateway reaches every gateway's copy over the push bus. With the avatar service unreachable
// the URL goes out without a version (served no-cache) rather than failing the call.
import type { FastifyBaseLogger } from 'fastify';
import { BoundedMap } from '@notify/lib';
import type { Notification } from '@notify/lib/rpc';
import type { Upstreams } from './upstreams.ts';

/** The avatar service answers versions of at most this many users a call. */
const VERSIONS_BATCH = 1_000;
/** After a failed read of versions, URLs go out without one this long before the service is asked again. */
const QUIET_AFTER_FAILURE_MS = 2_000;

/** The URL of a user's avatar: with its version (immutable), or without (the current one, revalidated). */
export function avatarUrl(basePath: string, userId: string, version?: string): string {
  const path = `${basePath.replace(/\/+$/, '')}/${encodeURIComponent(userId)}`;
  return version === undefined ? path : `${path}?v=${encodeURIComponent(version)}`;
}

interface Known {
  version: string;
  /** Epoch ms after which it is read again. */
  until: number;
}

export class AvatarVersions {
  private readonly known: BoundedMap<string, Known>;
  /** Reads under way, by user: a user asked for again meanwhile waits for the same read. */
  private readonly reading = new Map<string, Promise<string | undefined>>();
  private readonly listeners: ((userId: string) => void)[] = [];
  /** Users whose version was set (an upload or removal) at a count of `changes`: a read begun earlier does not overwrite it. */
  private readonly changedAt: BoundedMap<string, number>;
  private changes = 0;
  private quietUntil = 0;

  constructor(
    private readonly d: {
      upstreams: Pick<Upstreams, 'avatarVersions'>;
      basePath: string;
      ttlMs: number;
      maxEntries: number;
      log: FastifyBaseLogger;
      now?: () => number;
    },
  ) {
    this.known = new BoundedMap(d.maxEntries);
    this.changedAt = new BoundedMap(d.maxEntries);
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** The avatar URL of one user (never fails: without a version when it cannot be read). */
  async url(userId: string): Promise<string> {
    return (await this.urls([userId])).get(userId)!;
  }

  /** The avatar URLs of these users, reading the versions not known here in as few calls as possible. */
  async urls(userIds: Iterable<string>): Promise<Map<string, string>> {
    const versions = await this.versions([...new Set(userIds)]);
    return new Map([...versions].map(([userId, version]) => [userId, avatarUrl(this.d.basePath, userId, version)]));
  }

  /** Notifications with their publishers' avatar URLs, the versions read once for the whole page. */
  async withPublisherAvatars<N extends Omit<Notification, 'publisherAvatarUrl'>>(notifications: N[]): Promise<(N & { publisherAvatarUrl: string })[]> {
    const urls = await this.urls(notifications.map((notification) => notification.publisherId));
    return notifications.map((notification) => ({ ...notification, publisherAvatarUrl: urls.get(notification.publisherId)! }));
  }

  /** Calls `listener` with the user whenever a user's version changes here (`set`). */
  onChange(listener: (userId: string) => void): void {
    this.listeners.push(listener);
  }

  /** A user's new version (an upload or removal on any gateway), used from now on. */
  set(userId: string, version: string): void {
    for (const listener of this.listeners) listener(userId);
    this.changes += 1;
    this.changedAt.delete(userId);
    this.changedAt.set(userId, this.changes);
    this.known.delete(userId);
    this.known.set(userId, { version, until: this.now() + this.d.ttlMs });
  }

  private async versions(userIds: string[]): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    const waiting: Promise<void>[] = [];
    const missing: string[] = [];
    const now = this.now();
    for (const userId of userIds) {
      const known = this.known.get(userId);
      if (known && known.until > now) {
        found.set(userId, known.version);
        continue;
      }
      const read = this.reading.get(userId);
      if (read) waiting.push(read.then((version) => void found.set(userId, version)));
      else missing.push(userId);
    }
    for (let start = 0; start < missing.length; start += VERSIONS_BATCH) {
      const batch = missing.slice(start, start + VERSIONS_BATCH);
      const read = this.read(batch);
      for (const userId of batch) {
        const one = read.then((answer) => answer.get(userId));
        this.reading.set(userId, one);
        waiting.push(one.then((version) => void found.set(userId, version)));
      }
      void read.finally(() => {
        for (const userId of batch) this.reading.delete(userId);
      });
    }
    await Promise.all(waiting);
    return found;
  }

  /** One call to the avatar service; an empty answer when it fails (the URLs then go out without a version). */
  private async read(userIds: string[]): Promise<Map<string, string>> {
    if (this.now() < this.quietUntil) return new Map();
    const begun = this.changes;
    try {
      const { versions } = await this.d.upstreams.avatarVersions.versions({ body: { userIds } });
      const until = this.now() + this.d.ttlMs;
      const answer = new Map<string, string>();
      for (const userId of userIds) {
        const version = versions[userId];
        if (version === undefined) continue;
        // An upload or removal heard while this read was under way is newer than its answer.
        if ((this.changedAt.get(userId) ?? 0) > begun) {
          answer.set(userId, this.known.get(userId)?.version ?? version);
          continue;
        }
        answer.set(userId, version);
        this.known.delete(userId);
        this.known.set(userId, { version, until });
      }
      return answer;
    } catch (error) {
      this.quietUntil = this.now() + QUIET_AFTER_FAILURE_MS;
      this.d.log.warn({ err: error, users: userIds.length }, 'avatar versions not read; avatar URLs go out without a version for now');
      return new Map();
    }
  }
}
