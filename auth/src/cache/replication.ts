// Cache replication between auth nodes: a write invalidates locally, then on every other REGISTERED
// auth node found through discovery (passing or not: a draining node still serves from its cache),
// and waits (up to REPLICATION_TIMEOUT_MS) for their acknowledgements. A peer that does not
// acknowledge in time is logged and the write answers anyway: its entry expires within CACHE_TTL_MS.
// A receiver that sees a gap in an origin's sequence, or an origin it cannot vouch for, clears its
// cache: it may have missed something.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { FastifyBaseLogger } from 'fastify';
import { HttpPools, originOf, type Instance, type ServiceIdentity } from '@notify/lib';
import type { AuthMetrics } from '../metrics.ts';
import type { AuthCache, Invalidation } from './auth-cache.ts';

export const REPLICATION_PATH = '/internal/cache/invalidate';
/** Header carrying REPLICATION_SECRET between auth nodes. */
export const REPLICATION_SECRET_HEADER = 'x-replication-secret';
/** Origins whose last sequence number is remembered; the least recently heard is forgotten first. */
export const MAX_TRACKED_ORIGINS = 1_000;

export const replicationMessage = z.strictObject({
  origin: z.string().min(1).max(200),
  /** Random per process start: a new epoch means the origin restarted and its sequence began again. */
  epoch: z.string().min(1).max(64),
  seq: z.number().int().positive(),
  /** Epoch ms at the origin, for the lag metric. */
  sentAt: z.number().int().positive(),
  invalidations: z
    .array(z.strictObject({ cache: z.enum(['session', 'user']), key: z.string().min(1).max(200) }))
    .min(1)
    .max(1_000),
});

export type ReplicationMessage = z.infer<typeof replicationMessage>;

/** The registered auth instances, as a discovery watcher (passingOnly: false) reports them. */
export interface PeerSource {
  instances(): readonly Instance[];
  on(event: 'change', listener: (instances: Instance[]) => void): unknown;
}

export class Replicator {
  private readonly epoch = randomUUID();
  private seq = 0;
  /** Last (epoch, seq) per origin, least recently heard first; bounded by MAX_TRACKED_ORIGINS. */
  private readonly seen = new Map<string, { epoch: string; seq: number }>();
  /** Peers' origins a connection was opened to ahead of their first invalidation. */
  private warmed = new Set<string>();
  private readonly secretDigest: Buffer | undefined;
  /** One keep-alive pool per peer (undici, not fetch: a peer may sit on a port fetch refuses). */
  private readonly http = new HttpPools();

  constructor(
    private readonly options: {
      selfId: () => string;
      peers: PeerSource;
      cache: AuthCache;
      timeoutMs: number;
      /** REPLICATION_SECRET: sent with every message, required on every message received. */
      secret?: string | undefined;
      metrics: AuthMetrics;
      log: FastifyBaseLogger;
      /** Signs each message as an auth node. */
      identity: ServiceIdentity;
    },
  ) {
    this.secretDigest = options.secret === undefined ? undefined : digest(options.secret);
    options.peers.on('change', (instances) => this.warm(instances));
    this.warm(options.peers.instances());
  }

  /** True when the request may deliver a message: no secret is configured, or it carries the right one. */
  authorize(header: string | string[] | undefined): boolean {
    if (!this.secretDigest) return true;
    if (typeof header !== 'string') return false;
    // Both sides hashed to 32 bytes, so the comparison takes as long whatever the guess's length.
    return timingSafeEqual(digest(header), this.secretDigest);
  }

  /** Invalidates here, then on every other auth node; resolves once all acked or the timeout passed. */
  async publish(invalidations: Invalidation[]): Promise<void> {
    const { cache, timeoutMs, metrics, log } = this.options;
    await cache.invalidate(invalidations);
    const targets = this.targets();
    if (targets.length === 0) return;
    this.seq += 1;
    const message: ReplicationMessage = { origin: this.options.selfId(), epoch: this.epoch, seq: this.seq, sentAt: Date.now(), invalidations };
    const body = JSON.stringify(message);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.secret !== undefined) headers[REPLICATION_SECRET_HEADER] = this.options.secret;
    Object.assign(headers, this.options.identity.headers('auth'));
    const stopTimer = metrics.publish.startTimer();
    const results = await Promise.allSettled(
      targets.map(async (peer) => {
        const answer = await this.http.request(originOf(peer), { method: 'POST', path: REPLICATION_PATH, headers, body, signal: AbortSignal.timeout(timeoutMs) });
        // Read to the end, so the connection goes back to the pool for the next message.
        await answer.body.dump();
        if (answer.statusCode >= 300) throw new Error(`${peer.id} answered ${answer.statusCode}`);
      }),
    );
    stopTimer();
    results.forEach((result, index) => {
      metrics.replication.inc({ direction: 'sent', result: result.status === 'fulfilled' ? 'ok' : 'failed' });
      if (result.status === 'rejected') {
        // The peer is down (it restarts cold) or slow (its next message shows a gap, or its entry expires).
        log.warn({ peer: targets[index]!.id, err: result.reason }, 'cache invalidation not acknowledged');
      }
    });
  }

  /** Applies a peer's message; clears the whole cache when messages may have been missed. */
  async receive(message: ReplicationMessage): Promise<void> {
    const { cache, metrics, log } = this.options;
    const last = this.seen.get(message.origin);
    const inSequence = last ? last.epoch === message.epoch && message.seq <= last.seq + 1 : message.seq === 1;
    if (!inSequence) {
      metrics.replication.inc({ direction: 'received', result: 'gap' });
      log.warn({ origin: message.origin, seq: message.seq, last }, 'replication gap: clearing the local cache');
      await cache.clear();
    } else {
      await cache.invalidate(message.invalidations);
      metrics.replication.inc({ direction: 'received', result: 'ok' });
    }
    this.remember(message, last);
    // Only a current peer's clock says anything about replication lag.
    if (this.options.peers.instances().some((instance) => instance.id === message.origin)) {
      metrics.lag.observe(Math.max(0, Date.now() - message.sentAt) / 1000);
    }
  }

  /** Every registered auth instance but this one. */
  private targets(): readonly Instance[] {
    const self = this.options.selfId();
    return this.options.peers.instances().filter((instance) => instance.id !== self);
  }

  private remember(message: ReplicationMessage, last: { epoch: string; seq: number } | undefined): void {
    const newer = !last || last.epoch !== message.epoch || message.seq > last.seq;
    const entry = newer ? { epoch: message.epoch, seq: message.seq } : last;
    // Re-inserted so the Map's order is least recently heard first.
    this.seen.delete(message.origin);
    this.seen.set(message.origin, entry);
    while (this.seen.size > MAX_TRACKED_ORIGINS) this.seen.delete(this.seen.keys().next().value!);
  }

  /**
   * Opens a connection to each peer as soon as discovery reports it (a GET /health, errors ignored),
   * so the first invalidation sent to it does not also pay for connection set-up.
   */
  private warm(instances: readonly Instance[]): void {
    const self = this.options.selfId();
    const current = new Set<string>();
    for (const peer of instances) {
      if (peer.id === self) continue;
      const origin = originOf(peer);
      current.add(origin);
      if (this.warmed.has(origin)) continue;
      this.http
        .request(origin, { method: 'GET', path: '/health', signal: AbortSignal.timeout(Math.max(1_000, this.options.timeoutMs * 10)) })
        .then((answer) => answer.body.dump())
        .catch(() => {});
    }
    // Connections to peers that left are closed with them.
    this.http.keepOnly(current);
    this.warmed = current;
  }

  /** Closes the connections to every peer. */
  async close(): Promise<void> {
    await this.http.close();
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
