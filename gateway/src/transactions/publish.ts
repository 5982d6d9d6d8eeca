// The publication transaction: persist stores the notification and its deliveries, counter adds
// one unread per recipient. After the commit, the notification is pushed (on every gateway,
// through the bus); its emails are handed to the mailer, which is never lost (the follow-up is
// retried until the mailer takes them, also after a crash).
import type { FastifyBaseLogger } from 'fastify';
import { defineTransaction, hasErrorCode, isFinalRefusal, type TransactionPayloads } from '@notify/lib';
import { counterActions, MAILER_MAX_RECIPIENTS, persistActions } from '@notify/lib/contracts';
import type { BusMessage } from '../push/fanout.ts';
import type { SubscribersCache } from '../subscribers-cache.ts';
import type { Upstreams } from '../upstreams.ts';
import { notificationView } from './notification-view.ts';

type Payload = TransactionPayloads<typeof BRANCHES>;
const BRANCHES = [persistActions.notificationCreate, counterActions.notificationCreate] as const;

export function publicationTransaction(d: {
  publish: (message: BusMessage) => Promise<void>;
  upstreams: Pick<Upstreams, 'mailer'>;
  subscribers: SubscribersCache;
  avatarBasePath: string;
  log: FastifyBaseLogger;
}) {
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
      await d.publish({ kind: 'notification', notification: notificationView(persist, new Date(committedAt), d.avatarBasePath), recipients: persist.recipients, committedAt });
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
          // A refusal (4xx) will not change on retry: say so loudly and go on with the other batches,
          // so the transaction completes. Anything else (mailer down, time-out) is thrown, and the
          // coordinator retries (the batches the mailer took already are dropped as repeats).
          if (!isFinalRefusal(error)) throw error;
          d.log.error({ err: error, notificationId: payload.notificationId, batchStart: start }, 'the mailer refused a batch of a notification’s emails; they are not sent');
        }
      }
    },
  });
}

export type PublicationTransaction = ReturnType<typeof publicationTransaction>;
