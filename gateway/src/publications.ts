// `notifications.publish`: who hears it (the topic's audience, or `to` checked against it), then
// the publication transaction, a few at a time (admission). A cached subscriber list may be stale:
// the transaction is tried once more with a fresh one.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createError, type ConcurrencyLimiter, type Coordinator } from '@notify/lib';
import type { RpcParams, RpcResults } from '@notify/lib/rpc';
import type { Session } from './connections.ts';
import type { SubscribersCache } from './subscribers-cache.ts';
import { notificationView } from './transactions/notification-view.ts';
import { refusalOf, settle } from './transactions/outcome.ts';
import type { PublicationTransaction } from './transactions/publish.ts';

export class Publications {
  constructor(
    private readonly d: {
      transaction: PublicationTransaction;
      coordinator: Coordinator;
      admission: ConcurrencyLimiter;
      subscribers: SubscribersCache;
      replyWaitMs: number;
      avatarBasePath: string;
      log: FastifyBaseLogger;
    },
  ) {}

  publish(session: Session, params: RpcParams<'notifications.publish'>): Promise<RpcResults['notifications.publish']> {
    return this.d.admission.run(() => this.publishNow(session, params));
  }

  private async publishNow(session: Session, params: RpcParams<'notifications.publish'>): Promise<RpcResults['notifications.publish']> {
    const publisherId = session.user.id;
    // Who may publish (the creator) and whether the topic lives are checked in one place: persist's
    // prepare, which votes FORBIDDEN or NOT_FOUND. The audience read answers NOT_FOUND early.
    // A cached subscriber list may be stale: one more try with a fresh one, then the refusal stands.
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt === 1;
      const { topic, subscribers } = await this.d.subscribers.get(params.topicId, publisherId, { fresh: attempt > 0 });
      let recipients = subscribers;
      if (params.to) {
        const known = new Set(subscribers);
        const strangers = params.to.filter((userId) => !known.has(userId));
        if (strangers.length) {
          if (!last) continue;
          throw createError({ code: 'INVALID_ARGUMENT', message: '`to` names users who do not follow the topic', details: { notSubscribed: strangers.slice(0, 20) } });
        }
        recipients = params.to;
      }
      const persist = {
        notificationId: randomUUID(),
        topicId: topic.id,
        publisherId,
        // Kept with the notification: the name it was published under, whatever the publisher is called later.
        publisherName: session.user.name,
        title: params.title,
        body: params.body,
        email: params.email ?? false,
        url: params.url ?? null,
        recipients,
        audience: params.to ? ('listed' as const) : ('subscribers' as const),
      };
      const tx = await this.d.coordinator.run(this.d.transaction, { persist, counter: { notificationId: persist.notificationId, recipients } });
      if (!tx.committed) {
        const refusal = refusalOf(tx.votes);
        // Persist's CONFLICT on a publication means the recipients and the subscriptions disagree
        // (someone subscribed or unsubscribed since the list was read): read them again, once.
        if (!last && refusal.code === 'CONFLICT' && refusal.details.participant === 'persist') {
          await this.d.subscribers.evict(topic.id);
          continue;
        }
        throw refusal;
      }
      await settle(tx.done, this.d.replyWaitMs, this.d.log);
      return { notification: notificationView(persist, new Date(), this.d.avatarBasePath), recipients };
    }
  }
}
