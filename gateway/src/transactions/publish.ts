// A publication as one transaction: persist stores the notification and its deliveries, counter
// adds one unread per recipient. After the commit, the notification is pushed (on every gateway,
// through the bus); its emails are handed to the mailer, which is never lost (the follow-up is
// retried until the mailer takes them, also after a crash).
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createError, defineTransaction, hasErrorCode, type ConcurrencyLimiter, type Coordinator, type TransactionPayloads } from '@notify/lib';
import { counterActions, MAILER_MAX_RECIPIENTS, persistActions, type CreateNotificationPayload } from '@notify/lib/contracts';
import type { Notification, RpcParams, RpcResults } from '@notify/lib/rpc';
import type { Session } from '../connections.ts';
import type { BusMessage } from '../push/fanout.ts';
import type { SubscribersCache } from '../subscribers-cache.ts';
import type { Upstreams } from '../upstreams.ts';
import { refusalOf, settle } from './outcome.ts';

/** Answers that no retry changes. */
const REFUSALS = new Set(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT']);

type Payload = TransactionPayloads<typeof BRANCHES>;
const BRANCHES = [persistActions.notificationCreate, counterActions.notificationCreate] as const;

export function publicationTransaction(d: { publish: (message: BusMessage) => Promise<void>; upstreams: Pick<Upstreams, 'mailer'>; subscribers: SubscribersCache; log: FastifyBaseLogger }) {
  /**
   * The topic's name for the email, from the audience the publication was made for (cached; read
   * again only after a restart); a topic deleted since the publication still gets its email.
   */
  const topicName = async (payload: Payload['persist']): Promise<string> => {
    try {
      return (await d.subscribers.get(payload.topicId, payload.publisherId)).topic.name;
    } catch (error) {
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') return 'a deleted topic';
      throw error;
    }
  };

  return defineTransaction('notification.publish', {
    branches: BRANCHES,
    async afterCommit({ persist }) {
      const committedAt = Date.now();
      await d.publish({ kind: 'notification', notification: notificationView(persist, new Date(committedAt)), recipients: persist.recipients, committedAt });
    },
    /**
     * A publication with `email` goes to the mailer, one job per recipient. Repeated after a crash,
     * it queues nothing twice (the mailer keys each job by notification and recipient).
     */
    async followUp({ persist: payload }) {
      if (!payload.email || payload.recipients.length === 0) return;
      const topic = { id: payload.topicId, name: await topicName(payload) };
      for (let start = 0; start < payload.recipients.length; start += MAILER_MAX_RECIPIENTS) {
        try {
          const recipients = payload.recipients.slice(start, start + MAILER_MAX_RECIPIENTS);
          await d.upstreams.mailer.notificationEmails({ body: { notificationId: payload.notificationId, topic, title: payload.title, body: payload.body, recipients } });
        } catch (error) {
          // A refusal (4xx) will not change on retry: say so loudly and let the transaction complete.
          // Anything else (mailer down, time-out) is thrown, and the coordinator retries.
          if (!hasErrorCode(error) || !REFUSALS.has(error.code)) throw error;
          d.log.error({ err: error, notificationId: payload.notificationId }, 'the mailer refused a notification’s emails; they are not sent');
          return;
        }
      }
    },
  });
}

export type PublicationTransaction = ReturnType<typeof publicationTransaction>;

/** `notifications.publish`: who hears it, then the transaction, a few at a time (admission). */
export class Publications {
  constructor(
    private readonly d: {
      transaction: PublicationTransaction;
      coordinator: Coordinator;
      admission: ConcurrencyLimiter;
      subscribers: SubscribersCache;
      replyWaitMs: number;
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
        title: params.title,
        body: params.body,
        email: params.email ?? false,
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
      return { notification: notificationView(persist, new Date()), recipients };
    }
  }
}

function notificationView(payload: Pick<CreateNotificationPayload, 'notificationId' | 'topicId' | 'publisherId' | 'title' | 'body'> & { email?: boolean }, at: Date): Notification {
  return {
    id: payload.notificationId,
    topicId: payload.topicId,
    publisherId: payload.publisherId,
    title: payload.title,
    body: payload.body,
    email: payload.email ?? false,
    createdAt: at.toISOString(),
    read: false,
    ackedAt: null,
  };
}
