// What the gateway instances tell each other over the push bus, and what each does with it:
// a committed notification goes to every local connection of its recipients (then their unread
// counts, and the deliveries are recorded for the trace); a counter change goes to the user's
// connections; a logout ends the token's sessions; a subscription change evicts a cached list;
// a new picture updates the avatar version handed out in URLs.
import type { FastifyBaseLogger } from 'fastify';
import { contextFrom, SpanKind, startSpan, tracingOn, type Span } from '@notify/lib';
import type { Notification } from '@notify/lib/rpc';
import type { AvatarVersions } from '../avatars.ts';
import type { ConnectionRegistry } from '../connections.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Sessions } from '../sessions.ts';
import type { SubscribersCache } from '../subscribers-cache.ts';
import type { Upstreams } from '../upstreams.ts';
import { Coalescer } from './coalescer.ts';

export type BusMessage =
  | { kind: 'notification'; notification: Notification; recipients: string[]; committedAt: number; /** The publication's trace (tracing on). */ traceparent?: string }
  | { kind: 'counter'; userId: string; unread: number }
  | { kind: 'logout'; tokenHash: string }
  | { kind: 'subscribers-changed'; topicId: string }
  /** A user uploaded or removed their picture: every gateway's avatar URLs for them carry `version` from now on. */
  | { kind: 'avatar-changed'; userId: string; version: string };

/** Persist's largest batch of events, and counter's of users. */
const EVENT_BATCH = 10_000;

interface DeliveredEvent {
  notificationId: string;
  type: 'delivered';
  recipientId: string;
  detail: Record<string, string>;
}

export class Fanout {
  /** Delivered events of every notification pushed here, recorded for the trace in one call per turn. */
  private readonly deliveries = new Coalescer<DeliveredEvent>((events) => this.recordDeliveries(events), EVENT_BATCH);
  /** Users whose count changed with a notification pushed here: one counter read per turn. */
  private readonly counts = new Coalescer<string>((userIds) => this.pushCounters(userIds), EVENT_BATCH);

  constructor(
    private readonly d: {
      instanceId: () => string;
      connections: ConnectionRegistry;
      sessions: Sessions;
      subscribers: SubscribersCache;
      avatars: Pick<AvatarVersions, 'set'>;
      upstreams: Pick<Upstreams, 'persist' | 'counter'>;
      metrics: GatewayMetrics;
      log: FastifyBaseLogger;
    },
  ) {}

  /** Waits for the bookkeeping of what was pushed so far (at shutdown, and in tests). */
  async drain(): Promise<void> {
    await Promise.all([this.deliveries.drain(), this.counts.drain()]);
  }

  readonly handle = async (message: BusMessage): Promise<void> => {
    switch (message.kind) {
      case 'notification':
        return this.notification(message);
      case 'counter':
        this.d.metrics.pushes.inc({ event: 'counter' }, this.d.connections.pushTo(message.userId, 'counter', { unread: message.unread }));
        return;
      case 'logout':
        await this.d.sessions.evict(message.tokenHash);
        this.d.connections.endSessions(message.tokenHash, 'logged out');
        return;
      case 'subscribers-changed':
        return this.d.subscribers.evict(message.topicId);
      case 'avatar-changed':
        this.d.avatars.set(message.userId, message.version);
        return;
    }
  };

  private notification({ notification, recipients, committedAt, traceparent }: Extract<BusMessage, { kind: 'notification' }>): void {
    // Each gateway's fan-out is a span of the publication's trace.
    const span = traceparent && tracingOn() ? startSpan('push fan-out', { kind: SpanKind.CONSUMER, attributes: { 'notify.notification_id': notification.id, 'notify.recipients': recipients.length, 'notify.gateway': this.d.instanceId() } }, contextFrom(traceparent)) : undefined;
    try {
      this.pushNotification(notification, recipients, committedAt, span);
    } finally {
      span?.end();
    }
  }

  private pushNotification(notification: Notification, recipients: string[], committedAt: number, span: Span | undefined): void {
    const delivered: DeliveredEvent[] = [];
    const local: string[] = [];
    for (const recipientId of recipients) {
      const connections = this.d.connections.ofUser(recipientId);
      if (connections.size === 0) continue;
      local.push(recipientId);
      for (const connection of connections) {
        connection.push('notification', notification);
        delivered.push({ notificationId: notification.id, type: 'delivered', recipientId, detail: { connection: connection.id, transport: connection.transport, gateway: this.d.instanceId() } });
      }
    }
    span?.setAttribute('notify.pushes', delivered.length);
    if (local.length === 0) return;
    this.d.metrics.pushes.inc({ event: 'notification' }, delivered.length);
    this.d.metrics.fanout.observe(Math.max(0, Date.now() - committedAt) / 1000);
    // Off the push path: the pushes above are out; their bookkeeping joins that of other notifications.
    this.counts.add(local);
    this.deliveries.add(delivered);
  }

  /** The unread counts of users who just got notifications here, in one read (each user once). */
  private async pushCounters(userIds: string[]): Promise<void> {
    const users = [...new Set(userIds)];
    try {
      const { counters } = await this.d.upstreams.counter.queryCounters({ body: { userIds: users } });
      for (const userId of users) {
        const unread = counters[userId];
        if (unread !== undefined) this.d.metrics.pushes.inc({ event: 'counter' }, this.d.connections.pushTo(userId, 'counter', { unread }));
      }
    } catch (error) {
      // The notifications went out; their counts follow with the next change or counters.get.
      this.d.log.warn({ err: error, users: users.length }, 'unread counts not read after notifications; no counter push');
    }
  }

  /** Delivered events, of any number of notifications, in one call: persist records them in one statement. */
  private async recordDeliveries(events: DeliveredEvent[]): Promise<void> {
    try {
      await this.d.upstreams.persist.recordEvents({ body: { events } });
    } catch (error) {
      this.d.metrics.deliveryRecordFailures.inc();
      this.d.log.warn({ err: error, events: events.length }, 'delivered events not recorded in the trace');
    }
  }
}
