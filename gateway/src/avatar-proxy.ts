// GET <AVATAR_BASE_PATH>/:file: avatars through the gateway, so the avatar URLs the gateway hands out
// work from the client's origin. `<userId>?size&format&fit&grayscale&blur&v` is a variant of the
// user's avatar (the avatar service's /avatars/:userId); a path ending in `.png` is the generated
// avatar of any text (its /avatars/:seed.png), as it always was. Round-robin and breakers as every
// upstream call; the answers' headers (Content-Type, ETag, Cache-Control) and conditional requests
// (304) pass through. Immutable variant answers (a URL naming the current version) are kept here,
// bytes-bounded (AVATAR_CACHE_MAX_BYTES), and served without asking the avatar service again, until
// the user's avatar changes (an upload or a removal on any gateway): then every variant kept of it
// is forgotten, so a removed picture is no longer served from here under its old URL.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { LruByteMap, RequestValidationError } from '@notify/lib';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstreams } from './upstreams.ts';

/** Headers of the avatar's answer that the client needs. */
const PASSED_BACK = ['content-type', 'etag', 'cache-control', 'last-modified'];

/** A variant's query: the avatar service checks the values closely; here only their names and lengths. */
const variantQuery = z.strictObject({
  size: z.string().max(8).optional(),
  format: z.string().max(8).optional(),
  fit: z.string().max(16).optional(),
  grayscale: z.string().max(8).optional(),
  blur: z.string().max(8).optional(),
  v: z.string().max(80).optional(),
});
type VariantQuery = z.infer<typeof variantQuery>;
const VARIANT_KEYS = Object.keys(variantQuery.shape).sort() as (keyof VariantQuery)[];

/** An immutable variant as the avatar service answered it. */
export interface CachedVariant {
  body: Buffer;
  contentType: string;
  etag: string | undefined;
  cacheControl: string;
}

/** A cached variant with the headers of its answers built once, when it was cached. */
interface StoredVariant extends CachedVariant {
  headers: Record<string, string>;
}

function stored(variant: CachedVariant): StoredVariant {
  const headers: Record<string, string> = { 'content-type': variant.contentType };
  if (variant.etag !== undefined) headers.etag = variant.etag;
  headers['cache-control'] = variant.cacheControl;
  return { ...variant, headers };
}

/** Request URLs already seen for cached variants, each with its normalised key: a hit skips parsing the query. */
const URLS_KNOWN_MAX = 10_000;
/** Users whose latest avatar change is remembered by its own mark; older changes share one (see `mark`). */
const CHANGE_MARKS_MAX = 10_000;

/** The immutable variants this gateway serves itself: keyed by user id and normalised query. */
export class VariantCache {
  private readonly entries: LruByteMap<string, StoredVariant>;
  /** Raw request URL → normalised key, for URLs whose variant was cached (emptied when full). */
  private readonly urls = new Map<string, string>();
  /** The keys held of each user's variants, to forget them all when the avatar changes. */
  private readonly keysOf = new Map<string, Set<string>>();
  /** The mark of each user's latest avatar change heard, oldest first, at most CHANGE_MARKS_MAX. */
  private readonly changes = new Map<string, number>();
  /** Marks are taken from one rising sequence: the last one given. */
  private sequence = 0;
  /** The highest mark dropped by the bound: the mark of every user not in `changes`. */
  private dropped = 0;

  private readonly changeMarksMax: number;

  constructor(options: { maxBytes: number; maxEntries: number; changeMarksMax?: number }) {
    this.changeMarksMax = options.changeMarksMax ?? CHANGE_MARKS_MAX;
    this.entries = new LruByteMap({
      maxBytes: options.maxBytes,
      maxEntries: options.maxEntries,
      sizeOf: (entry) => entry.body.byteLength + 256,
      onEvict: (key) => this.unindex(key as string),
    });
  }

  get bytes(): number {
    return this.entries.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): StoredVariant | undefined {
    return this.entries.get(key);
  }

  /** The cached variant a request URL seen before names, without parsing it again. */
  byUrl(url: string): StoredVariant | undefined {
    const key = this.urls.get(url);
    return key === undefined ? undefined : this.entries.get(key);
  }

  /** Remembers that this request URL names the variant cached under `key`. */
  rememberUrl(url: string, key: string): void {
    if (this.urls.size >= URLS_KNOWN_MAX) this.urls.clear();
    this.urls.set(url, key);
  }

  /**
   * A mark to offer an answer with: taken before asking the avatar service, it tells whether the
   * avatar changed meanwhile. A change gives the user a mark higher than any given before; a user
   * whose own mark the bound dropped has the highest dropped one, so an answer asked for before
   * that may be refused, but none asked for before a change is ever kept.
   */
  mark(userId: string): number {
    return this.changes.get(userId) ?? this.dropped;
  }

  /**
   * Kept only when its Cache-Control says it never changes, and when the user's avatar did not
   * change since `mark` (an answer asked for before a change may name the version it replaced).
   */
  offer(userId: string, key: string, variant: CachedVariant, mark: number): void {
    if (this.mark(userId) !== mark) return;
    if (!/(^|[\s,])immutable([\s,]|$)/i.test(variant.cacheControl) || /no-store|private/i.test(variant.cacheControl)) return;
    this.entries.set(key, stored(variant));
    if (!this.entries.has(key)) return;
    let keys = this.keysOf.get(userId);
    if (!keys) this.keysOf.set(userId, (keys = new Set()));
    keys.add(key);
  }

  /** The user's avatar changed: every variant kept of it is forgotten, and answers asked for before are not kept. */
  forget(userId: string): void {
    this.changes.delete(userId);
    this.changes.set(userId, ++this.sequence);
    if (this.changes.size > this.changeMarksMax) {
      const [oldest, mark] = this.changes.entries().next().value!;
      this.changes.delete(oldest);
      this.dropped = mark;
    }
    const keys = this.keysOf.get(userId);
    if (!keys) return;
    this.keysOf.delete(userId);
    for (const key of keys) this.entries.delete(key);
  }

  private unindex(key: string): void {
    // The query never holds a bare '?' (it is written by URLSearchParams); a user id might.
    const userId = key.slice(0, key.lastIndexOf('?'));
    const keys = this.keysOf.get(userId);
    keys?.delete(key);
    if (keys?.size === 0) this.keysOf.delete(userId);
  }
}

/** True when an If-None-Match header names this ETag (or `*`); weak and strong compare alike, as for GET. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string | undefined): boolean {
  if (!ifNoneMatch || !etag) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = bare(etag);
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === wanted);
}

/** The user id and normalised query of a variant request: its known keys in one order, so equal requests share a key. */
function normalised(userId: string, query: VariantQuery): { key: string; search: string } {
  const search = new URLSearchParams();
  for (const name of VARIANT_KEYS) {
    const value = query[name];
    if (value !== undefined) search.set(name, value);
  }
  const text = search.toString();
  return { key: `${userId}?${text}`, search: text ? `?${text}` : '' };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export async function avatarProxy(
  app: FastifyInstance,
  { upstreams, basePath, timeoutMs, cache, metrics }: { upstreams: Pick<Upstreams, 'client'>; basePath: string; timeoutMs: number; cache: VariantCache; metrics: Pick<GatewayMetrics, 'cache'> },
): Promise<void> {
  const send = (reply: FastifyReply, status: number, headers: Record<string, string | string[] | undefined>, body: Buffer | undefined) => {
    reply.code(status);
    for (const name of PASSED_BACK) {
      const value = headers[name];
      if (value !== undefined) reply.header(name, value);
    }
    return status === 304 || body === undefined ? reply.send() : reply.send(body);
  };

  const forward = async (path: string, ifNoneMatch: string | undefined) =>
    upstreams.client('avatar').request<Buffer>({
      method: 'GET',
      path,
      headers: ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {},
      deadlineMs: timeoutMs,
      idempotent: true,
      raw: true,
    });

  const HIT = { cache: 'avatar-variant', result: 'hit' } as const;
  /** A cached variant's answer: its headers were built when it was cached, nothing is allocated here. */
  const hit = (reply: FastifyReply, cached: StoredVariant, ifNoneMatch: string | undefined) => {
    metrics.cache.inc(HIT);
    reply.headers(cached.headers);
    return etagMatches(ifNoneMatch, cached.etag) ? reply.code(304).send() : reply.send(cached.body);
  };

  app.get(`${basePath.replace(/\/+$/, '')}/:file`, async (request, reply) => {
    const ifNoneMatch = header(request.headers['if-none-match']);
    // A URL already answered from the cache: the same normalised request, no parsing needed.
    const url = request.raw.url ?? '';
    const known = cache.byUrl(url);
    if (known) return hit(reply, known, ifNoneMatch);
    const { file } = request.params as { file: string };

    // The generated avatar of any text, as it always was: the query passes through untouched.
    if (file.endsWith('.png')) {
      const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
      const answer = await forward(`/avatars/${encodeURIComponent(file)}${query}`, ifNoneMatch);
      return send(reply, answer.status, answer.headers ?? {}, answer.body);
    }

    const parsed = variantQuery.safeParse(request.query);
    if (!parsed.success) throw new RequestValidationError('querystring', parsed.error.issues);
    const { key, search } = normalised(file, parsed.data);
    const cached = parsed.data.v === undefined ? undefined : cache.get(key);
    if (cached) {
      cache.rememberUrl(url, key);
      return hit(reply, cached, ifNoneMatch);
    }
    if (parsed.data.v !== undefined) metrics.cache.inc({ cache: 'avatar-variant', result: 'miss' });
    const mark = cache.mark(file);
    const answer = await forward(`/avatars/${encodeURIComponent(file)}${search}`, ifNoneMatch);
    const headers = answer.headers ?? {};
    const cacheControl = header(headers['cache-control']);
    const contentType = header(headers['content-type']);
    if (answer.status === 200 && parsed.data.v !== undefined && cacheControl && contentType) {
      cache.offer(file, key, { body: answer.body, contentType, etag: header(headers.etag), cacheControl }, mark);
    }
    return send(reply, answer.status, headers, answer.body);
  });
}
