// `notifications.publish`: who hears it (the topic's audience, or `to` checked against it), then
// the publication transaction, a few at a time (admission). A cached subscriber list may be stale:
// the transaction is tried once more with a fresh one. A publish with an idempotency key answers
// an earlier attempt of the same request (also one made on another gateway that died before it
// answered) instead of creating anything twice.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { createError, currentTraceId, hasErrorCode, REASON, tracingOn, type ConcurrencyLimiter, type Coordinator } from '@notify/lib';
import type { Publication } from '@notify/lib/contracts';
import type { RpcParams, RpcResults } from '@notify/lib/rpc';
import type { AvatarVersions } from './avatars.ts';
import type { Session } from './connections.ts';
import { idempotentNotificationId, publishFingerprint } from './idempotency.ts';
import { honour } from './preferences/audience.ts';
import type { SubscribersCache } from './subscribers-cache.ts';
import { notificationView } from './transactions/notification-view.ts';
import { refusalOf, settle } from './transactions/outcome.ts';
import type { PublicationTransaction } from './transactions/publish.ts';
import type { Upstreams } from './upstreams.ts';

type PublishParams = RpcParams<'notifications.publish'>;
type PublishResult = RpcResults['notifications.publish'];

/** `{ traceId }` of the active trace; nothing while tracing is off or no span is active. */
function traceIdNow(): { traceId?: string } {
  const traceId = tracingOn() ? currentTraceId() : undefined;
  return traceId ? { traceId } : {};
}

/** How often a repeated publish looks again at an earlier attempt still being decided. */
const IN_DOUBT_POLL_MS = 100;

export class Publications {
  constructor(
    private readonly d: {
      transaction: PublicationTransaction;
      coordinator: Coordinator;
      admission: ConcurrencyLimiter;
      subscribers: SubscribersCache;
      upstreams: Pick<Upstreams, 'persist'>;
      replyWaitMs: number;
      /** Longest a repeated publish waits for an earlier attempt still being decided. */
      idempotencyWaitMs: number;
      /** The publisher's avatar URL in each answer. */
      avatars: Pick<AvatarVersions, 'url'>;
      log: FastifyBaseLogger;
    },
  ) {}

  publish(session: Session, params: PublishParams): Promise<PublishResult> {
    return this.d.admission.run(() => (params.idempotencyKey ? this.publishOnce(session, params, params.idempotencyKey) : this.publishNow(session, params, randomUUID())));
  }

  /**
   * A publish with an idempotency key: its notification id derives from the key, so persist stores
   * at most one. An earlier attempt found committed is answered (when it asked the same); one still
   * pending is waited for; one aborted leaves the id free, and this attempt makes it. Two attempts
   * racing each other: persist lets one prepare (the other hears PUBLICATION_EXISTS and answers it).
   */
  private async publishOnce(session: Session, params: PublishParams, key: string): Promise<PublishResult> {
    const notificationId = idempotentNotificationId(session.user.id, key);
    const fingerprint = publishFingerprint(params);
    const deadline = Date.now() + this.d.idempotencyWaitMs;
    for (;;) {
      const earlier = await this.earlierAttempt(session.user.id, notificationId, fingerprint, deadline);
      if (earlier) return earlier;
      try {
        return await this.publishNow(session, params, notificationId, fingerprint);
      } catch (error) {
        const taken = hasErrorCode(error) && (error as { details?: { reason?: unknown } }).details?.reason === REASON.PUBLICATION_EXISTS;
        if (!taken) throw error;
      }
    }
  }

  /** The answer of an earlier attempt, once it is committed; undefined when there is none (never made, or aborted). */
  private async earlierAttempt(publisherId: string, notificationId: string, fingerprint: string, deadline: number): Promise<PublishResult | undefined> {
    for (;;) {
      const earlier = await this.publication(publisherId, notificationId);
      if (!earlier) return undefined;
      if (earlier.fingerprint !== fingerprint) {
        throw createError({ code: 'CONFLICT', message: 'this idempotency key was used for a different publication', details: { reason: REASON.IDEMPOTENCY_KEY_REUSED, notificationId } });
      }
      if (earlier.state === 'committed') {
        return { notification: notificationView(earlier, new Date(earlier.createdAt), await this.d.avatars.url(publisherId)), recipients: earlier.recipients };
      }
      if (Date.now() >= deadline) {
        throw createError({
          code: 'TIMEOUT',
          message: 'an earlier publish with this idempotency key is still being decided; send it again later',
          details: { reason: REASON.PUBLICATION_IN_DOUBT, notificationId, retryAfterSeconds: 1 },
        });
      }
      await sleep(IN_DOUBT_POLL_MS);
    }
  }

  private async publication(publisherId: string, notificationId: string): Promise<Publication | undefined> {
    try {
      return await this.d.upstreams.persist.getPublication({ params: { id: notificationId } }, { user: publisherId });
    } catch (error) {
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private async publishNow(session: Session, params: PublishParams, notificationId: string, fingerprint?: string): Promise<PublishResult> {
    const publisherId = session.user.id;
    // Who may publish (the creator) and whether the topic lives are checked in one place: persist's
    // prepare, which votes FORBIDDEN or NOT_FOUND. The audience read answers NOT_FOUND early.
    // A cached subscriber list may be stale: one more try with a fresh one, then the refusal stands.
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt === 1;
      const audience = await this.d.subscribers.get(params.topicId, publisherId, { fresh: attempt > 0 });
      const { topic, subscribers } = audience;
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
      // Subscriber preferences: muted recipients are stored read and not counted (persist checks the view).
      const { muted, emailOptOut, notified } = honour(audience, recipients);
      const persist = {
        notificationId,
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
        muted,
        emailOptOut,
        ...(fingerprint ? { fingerprint } : {}),
        // The trace this publication is made in, kept with it (see notifications.trace).
        ...traceIdNow(),
      };
      const tx = await this.d.coordinator.run(this.d.transaction, { persist, counter: { notificationId: persist.notificationId, recipients: notified } });
      if (!tx.committed) {
        const refusal = refusalOf(tx.votes);
        // Persist's CONFLICT on a publication means the recipients and the subscriptions disagree
        // (someone subscribed, unsubscribed or changed preferences since the list was read): read
        // them again, once. A notification id already stored (PUBLICATION_EXISTS) is the caller's.
        if (!last && refusal.code === 'CONFLICT' && refusal.details.participant === 'persist' && refusal.details.reason !== REASON.PUBLICATION_EXISTS) {
          await this.d.subscribers.evict(topic.id);
          continue;
        }
        throw refusal;
      }
      await settle(tx.done, this.d.replyWaitMs, this.d.log);
      return { notification: notificationView(persist, new Date(), await this.d.avatars.url(publisherId)), recipients };
    }
  }
}
