// What the gateway instances tell each other over the push bus, and what each does with it:
// a committed notification goes to every local connection of its recipients (then their unread
// counts, and the deliveries are recorded for the trace); a counter change goes to the user's
// connections; a logout ends the token's sessions; a subscription change evicts a cached list.
import type { FastifyBaseLogger } from 'fastify';
import type { Notification } from '@notify/lib/rpc';
import type { ConnectionRegistry } from '../connections.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Sessions } from '../sessions.ts';
import type { SubscribersCache } from '../subscribers-cache.ts';
import type { Upstreams } from '../upstreams.ts';

export type BusMessage =
  | { kind: 'notification'; notification: Notification; recipients: string[]; committedAt: number }
  | { kind: 'counter'; userId: string; unread: number }
  | { kind: 'logout'; tokenHash: string }
  | { kind: 'subscribers-changed'; topicId: string };

/** Persist's largest batch of events. */
const EVENT_BATCH = 10_000;

export class Fanout {
  constructor(
    private readonly d: {
      instanceId: () => string;
      connections: ConnectionRegistry;
      sessions: Sessions;
      subscribers: SubscribersCache;
      upstreams: Upstreams;
      metrics: GatewayMetrics;
      log: FastifyBaseLogger;
    },
  ) {}

  readonly handle = async (message: BusMessage): Promise<void> => {
    switch (message.kind) {
      case 'notification':
        return this.notification(message.notification, message.recipients, message.committedAt);
      case 'counter':
        this.d.metrics.pushes.inc({ event: 'counter' }, this.d.connections.pushTo(message.userId, 'counter', { unread: message.unread }));
        return;
      case 'logout':
        await this.d.sessions.evict(message.tokenHash);
        this.d.connections.endSessions(message.tokenHash, 'logged out');
        return;
      case 'subscribers-changed':
        return this.d.subscribers.evict(message.topicId);
    }
  };

  private async notification(notification: Notification, recipients: string[], committedAt: number): Promise<void> {
    const delivered: { type: 'delivered'; recipientId: string; detail: Record<string, string> }[] = [];
    const local: string[] = [];
    for (const recipientId of recipients) {
      const connections = this.d.connections.ofUser(recipientId);
      if (connections.size === 0) continue;
      local.push(recipientId);
      for (const connection of connections) {
        connection.push('notification', notification);
        delivered.push({ type: 'delivered', recipientId, detail: { connection: connection.id, transport: connection.transport, gateway: this.d.instanceId() } });
      }
    }
    if (local.length === 0) return;
    this.d.metrics.pushes.inc({ event: 'notification' }, delivered.length);
    this.d.metrics.fanout.observe(Math.max(0, Date.now() - committedAt) / 1000);
    await Promise.all([this.pushCounters(local), this.recordDeliveries(notification.id, delivered)]);
  }

  /** Each local recipient's unread count after the notification, in one read per 10,000 users. */
  private async pushCounters(userIds: string[]): Promise<void> {
    for (let start = 0; start < userIds.length; start += EVENT_BATCH) {
      const batch = userIds.slice(start, start + EVENT_BATCH);
      try {
        const { counters } = await this.d.upstreams.call<{ counters: Record<string, number> }>('counter', {
          method: 'POST',
          path: '/api/counters/query',
          body: { userIds: batch },
          idempotent: true,
        });
        for (const userId of batch) {
          const unread = counters[userId];
          if (unread !== undefined) this.d.metrics.pushes.inc({ event: 'counter' }, this.d.connections.pushTo(userId, 'counter', { unread }));
        }
      } catch (error) {
        // The notification went out; its count follows with the next change or counters.get.
        this.d.log.warn({ err: error, users: batch.length }, 'unread counts not read after a notification; no counter push');
      }
    }
  }

  private async recordDeliveries(notificationId: string, events: { type: 'delivered'; recipientId: string; detail: Record<string, string> }[]): Promise<void> {
    for (let start = 0; start < events.length; start += EVENT_BATCH) {
      try {
        await this.d.upstreams.call('persist', {
          method: 'POST',
          path: `/api/notifications/${notificationId}/events/batch`,
          body: { events: events.slice(start, start + EVENT_BATCH) },
          idempotent: false,
        });
      } catch (error) {
        this.d.metrics.deliveryRecordFailures.inc();
        this.d.log.warn({ err: error, notificationId }, 'delivered events not recorded in the trace');
      }
    }
  }
}
