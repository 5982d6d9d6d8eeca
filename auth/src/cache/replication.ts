// Cache replication between auth nodes: a write invalidates locally, then on every other passing
// auth node found through discovery, and waits (up to REPLICATION_TIMEOUT_MS) for them to apply it.
// A receiver that sees a gap in an origin's sequence, or an origin it cannot vouch for, clears its
// cache: it may have missed something. What still slips through expires with CACHE_TTL_MS.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { FastifyBaseLogger } from 'fastify';
import type { Upstream } from '@notify/lib';
import type { AuthMetrics } from '../metrics.ts';
import type { AuthCache, Invalidation } from './auth-cache.ts';

export const REPLICATION_PATH = '/internal/cache/invalidate';

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

export class Replicator {
  private readonly epoch = randomUUID();
  private seq = 0;
  private readonly seen = new Map<string, { epoch: string; seq: number }>();

  constructor(
    private readonly options: {
      selfId: () => string;
      peers: Upstream;
      cache: AuthCache;
      timeoutMs: number;
      metrics: AuthMetrics;
      log: FastifyBaseLogger;
    },
  ) {}

  /** Invalidates here, then on every other auth node; resolves once all acked or the timeout passed. */
  async publish(invalidations: Invalidation[]): Promise<void> {
    const { cache, peers, timeoutMs, metrics, log } = this.options;
    await cache.invalidate(invalidations);
    const self = this.options.selfId();
    const targets = peers.watcher.instances().filter((instance) => instance.id !== self);
    if (targets.length === 0) return;
    this.seq += 1;
    const message: ReplicationMessage = { origin: self, epoch: this.epoch, seq: this.seq, sentAt: Date.now(), invalidations };
    const body = JSON.stringify(message);
    const stopTimer = metrics.publish.startTimer();
    const results = await Promise.allSettled(
      targets.map(async (peer) => {
        const response = await fetch(`http://${peer.address}:${peer.port}${REPLICATION_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!response.ok) throw new Error(`${peer.id} answered ${response.status}`);
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
    if (!last || last.epoch !== message.epoch || message.seq > last.seq) this.seen.set(message.origin, { epoch: message.epoch, seq: message.seq });
    metrics.lag.observe(Math.max(0, Date.now() - message.sentAt) / 1000);
  }
}
