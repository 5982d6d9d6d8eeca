// The publication transaction: persist stores the notification and its deliveries, counter adds
// one unread per recipient. After the commit, the notification is pushed (on every gateway,
// through the bus); its emails are handed to the mailer, which is never lost (the follow-up is
// retried until the mailer takes them, also after a crash).
import type { FastifyBaseLogger } from 'fastify';
import { currentTraceparent, defineTransaction, hasErrorCode, isFinalRefusal, type TransactionPayloads } from '@notify/lib';
import { counterActions, MAILER_MAX_RECIPIENTS_WITH_LINKS, persistActions } from '@notify/lib/contracts';
import { emailRecipients, pushRecipients } from '../preferences/audience.ts';
import type { AvatarVersions } from '../avatars.ts';
import type { UnsubscribeLinks } from '../preferences/unsubscribe-links.ts';
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
  unsubscribeLinks: UnsubscribeLinks;
  avatars: Pick<AvatarVersions, 'url'>;
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
      // Muted recipients have it in their feed, read: no push (and no unread to push).
      const traceparent = currentTraceparent();
      const publisherAvatarUrl = await d.avatars.url(persist.publisherId);
      await d.publish({
        kind: 'notification',
        notification: notificationView(persist, new Date(committedAt), publisherAvatarUrl),
        recipients: pushRecipients(persist),
        committedAt,
        ...(traceparent ? { traceparent } : {}),
      });
    },
    /**
     * A publication with `email` goes to the mailer, one job per recipient who neither muted the
     * topic nor opted out of its email, each with their one-click unsubscribe links. Repeated after
     * a crash, it queues nothing twice (the mailer keys each job by notification and recipient).
     */
    async followUp({ persist: payload }) {
      const emailed = emailRecipients(payload);
      if (!payload.email || emailed.length === 0) return;
      const topic = { id: payload.topicId, name: await topicName(payload) };
      for (let start = 0; start < emailed.length; start += MAILER_MAX_RECIPIENTS_WITH_LINKS) {
        try {
          const recipients = emailed.slice(start, start + MAILER_MAX_RECIPIENTS_WITH_LINKS);
          const unsubscribe = Object.fromEntries(
            recipients.map((userId) => [
              userId,
              { topic: d.unsubscribeLinks.url({ userId, topicId: payload.topicId, scope: 'email' }), all: d.unsubscribeLinks.url({ userId, topicId: 'all', scope: 'email' }) },
            ]),
          );
          await d.upstreams.mailer.notificationEmails({ body: { notificationId: payload.notificationId, topic, title: payload.title, body: payload.body, recipients, unsubscribe } });
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
