// The gateway's two-phase-commit actions, each a list of participant branches for the kit's
// Coordinator: a publication (persist stores the notification and its deliveries, counter adds
// one unread per recipient) and an acknowledgement (persist marks the delivery acked, counter
// takes one off). Pushes follow phase 2, for transactions run here and recovered after a crash;
// so does the hand-over of a publication's emails to the mailer, which is never lost.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createError, hasErrorCode, isErrorCode, type AppError, type Branch, type ConcurrencyLimiter, type Coordinator, type Vote } from '@notify/lib';
import type { Notification, RpcParams, RpcResults } from '@notify/lib/rpc';
import type { Config } from './config.ts';
import type { CounterReads } from './counter-reads.ts';
import type { Session } from './connections.ts';
import type { BusMessage } from './push/fanout.ts';
import type { SubscribersCache } from './subscribers-cache.ts';
import type { Upstreams } from './upstreams.ts';

interface CreatePayload {
  notificationId: string;
  topicId: string;
  publisherId: string;
  title: string;
  body: string;
  email: boolean;
  recipients: string[];
  audience: 'subscribers' | 'listed';
}

/** Recipients per request to the mailer (its limit). */
const MAILER_BATCH = 10_000;
/** Answers that no retry changes. */
const REFUSALS = new Set(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT']);

interface AckPayload {
  notificationId: string;
  userId: string;
}

export class Transactions {
  constructor(
    private readonly d: {
      coordinator: () => Coordinator;
      /** Bounds how many publishes and acks run at once (their reads and their transaction). */
      admission: ConcurrencyLimiter;
      upstreams: Upstreams;
      subscribers: SubscribersCache;
      counters: CounterReads;
      publish: (message: BusMessage) => Promise<void>;
      config: Readonly<Config>;
      log: FastifyBaseLogger;
    },
  ) {}

  publish(session: Session, params: RpcParams<'notifications.publish'>): Promise<RpcResults['notifications.publish']> {
    return this.d.admission.run(() => this.publishNow(session, params));
  }

  ack(session: Session, params: RpcParams<'notifications.ack'>): Promise<RpcResults['notifications.ack']> {
    return this.d.admission.run(() => this.ackNow(session, params));
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
      const payload: CreatePayload = {
        notificationId: randomUUID(),
        topicId: topic.id,
        publisherId,
        title: params.title,
        body: params.body,
        email: params.email ?? false,
        recipients,
        audience: params.to ? 'listed' : 'subscribers',
      };
      const tx = await this.d.coordinator().run([
        { service: 'persist', action: 'notification.create', payload },
        { service: 'counter', action: 'notification.create', payload: { notificationId: payload.notificationId, recipients } },
      ]);
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
      await this.settle(tx.done);
      return { notification: notificationView(payload, new Date()), recipients };
    }
  }

  private async ackNow(session: Session, params: RpcParams<'notifications.ack'>): Promise<RpcResults['notifications.ack']> {
    const payload: AckPayload = { notificationId: params.notificationId, userId: session.user.id };
    const tx = await this.d.coordinator().run([
      { service: 'persist', action: 'notification.ack', payload },
      { service: 'counter', action: 'notification.ack', payload },
    ]);
    if (!tx.committed) throw refusalOf(tx.votes);
    await this.settle(tx.done);
    // The ack is decided: from here on the answer says so, whatever happens to the count's read.
    return { ok: true, unread: await this.unread(session.user.id).catch((error: unknown) => this.unreadUnknown(error, session.user.id)) };
  }

  /** The count could not be read after a committed ack (counter down): null, and a `counter` push follows phase 2 when it can. */
  private unreadUnknown(error: unknown, userId: string): null {
    this.d.log.warn({ err: error, userId }, 'acknowledged, but the unread count could not be read for the answer');
    return null;
  }

  /** A user's unread count, read with every other count asked for in the same turn. */
  unread(userId: string): Promise<number> {
    return this.d.counters.read(userId);
  }

  /** The coordinator's onComplete: pushes what a committed transaction changed. */
  readonly completed = async (_txId: string, outcome: 'committed' | 'aborted', branches: Branch[]): Promise<void> => {
    if (outcome !== 'committed') return;
    const persist = branches.find((branch) => branch.service === 'persist');
    if (persist?.action === 'notification.create') {
      const payload = persist.payload as CreatePayload;
      const committedAt = Date.now();
      await this.d.publish({ kind: 'notification', notification: notificationView(payload, new Date(committedAt)), recipients: payload.recipients, committedAt });
    } else if (persist?.action === 'notification.ack') {
      const { userId } = persist.payload as AckPayload;
      await this.d.publish({ kind: 'counter', userId, unread: await this.unread(userId) });
    }
  };

  /**
   * The coordinator's follow-up, before it marks a transaction complete: a committed publication
   * with `email` goes to the mailer, one job per recipient. Repeated after a crash, it queues
   * nothing twice (the mailer keys each job by notification and recipient).
   */
  readonly followUp = async (_txId: string, outcome: 'committed' | 'aborted', branches: Branch[]): Promise<void> => {
    const persist = branches.find((branch) => branch.service === 'persist');
    if (outcome !== 'committed' || persist?.action !== 'notification.create') return;
    const payload = persist.payload as CreatePayload;
    if (!payload.email || payload.recipients.length === 0) return;
    const topic = { id: payload.topicId, name: await this.topicName(payload) };
    for (let start = 0; start < payload.recipients.length; start += MAILER_BATCH) {
      try {
        await this.d.upstreams.call('mailer', {
          method: 'POST',
          path: '/api/emails/notification',
          body: { notificationId: payload.notificationId, topic, title: payload.title, body: payload.body, recipients: payload.recipients.slice(start, start + MAILER_BATCH) },
          idempotent: true,
        });
      } catch (error) {
        // A refusal (4xx) will not change on retry: say so loudly and let the transaction complete.
        // Anything else (mailer down, time-out) is thrown, and the coordinator retries.
        if (!hasErrorCode(error) || !REFUSALS.has(error.code)) throw error;
        this.d.log.error({ err: error, notificationId: payload.notificationId }, 'the mailer refused a notification’s emails; they are not sent');
        return;
      }
    }
  };

  /**
   * The topic's name for the email, from the audience the publication was made for (cached; read
   * again only after a restart); a topic deleted since the publication still gets its email.
   */
  private async topicName(payload: CreatePayload): Promise<string> {
    try {
      return (await this.d.subscribers.get(payload.topicId, payload.publisherId)).topic.name;
    } catch (error) {
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') return 'a deleted topic';
      throw error;
    }
  }

  /** Waits for phase 2 (so the change is readable when the caller hears back), at most TWO_PC_REPLY_WAIT_MS. */
  private async settle(done: Promise<boolean>): Promise<void> {
    // A plain timer, cleared: an aborted sleep would build an AbortError (with its stack) per call.
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.d.config.TWO_PC_REPLY_WAIT_MS)));
    await Promise.race([done.catch((error: unknown) => this.d.log.error({ err: error }, 'phase 2 bookkeeping failed')), waited]);
    clearTimeout(timer);
  }
}

function notificationView(payload: CreatePayload, at: Date): Notification {
  return {
    id: payload.notificationId,
    topicId: payload.topicId,
    publisherId: payload.publisherId,
    title: payload.title,
    body: payload.body,
    email: payload.email,
    createdAt: at.toISOString(),
    read: false,
    ackedAt: null,
  };
}

/** The error a refused transaction answers with: persist's reason first (it knows the domain), else counter's. */
function refusalOf(votes: Vote[]): AppError {
  const no = votes.find((vote) => vote.vote === 'no' && vote.service === 'persist') ?? votes.find((vote) => vote.vote === 'no');
  const error = no?.error;
  return createError({
    code: error && isErrorCode(error.code) ? error.code : 'INTERNAL',
    message: error?.message ?? 'the transaction was aborted',
    details: { ...error?.details, participant: no?.service, aborted: true },
  });
}

