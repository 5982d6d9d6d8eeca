// Sends one email job: finds the recipient's address (auth) and, for a notification, their email
// preferences (persist: skipped when they turned this topic's or all email off; held for a digest
// past their digest threshold), renders the email with its one-click unsubscribe headers, hands it
// to the transport within SEND_EMAIL_TIMEOUT_MS, and queues the `emailed` trace event. A digest job
// sends the emails held in its window as one. A permanent SMTP refusal is dead-lettered at once;
// anything else fails the attempt and the queue retries it. Each attempt is an `email send` span in
// the trace of the request that queued the email.
import type { FastifyBaseLogger } from 'fastify';
import type { JobResult, JobWithMetadata } from 'pg-boss';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { z } from 'zod';
import { contextFrom, currentTraceparent, failSpan, hasErrorCode, inSpan, linkFrom, METRIC, SpanKind, tracingOn, type Span } from '@notify/lib';
import type { authContract, persistContract, ServiceClient } from '@notify/lib/contracts';
import type { Config } from './config.ts';
import { digestJob, messageIdOf, type EmailJob } from './domain/jobs.ts';
import { digestEmail, notificationEmail, notificationLink, welcomeEmail, type RenderedEmail } from './domain/templates.ts';
import type { DigestStore, HeldItem } from './queue/digest-store.ts';
import type { MailQueue } from './queue/mail-queue.ts';
import { SendError, type MailTransport } from './transports/base.ts';

interface Recipient {
  email: string;
  name: string;
}

type NotificationJob = Extract<EmailJob, { kind: 'notification' }>;
type DigestJob = Extract<EmailJob, { kind: 'digest' }>;
/** What a digest keeps of each email it holds back. */
type Held = Pick<NotificationJob, 'notification' | 'unsubscribe' | 'traceparent'>;
/** What is sent for a job, or why nothing is. */
type Plan = { skip: string } | { rendered: RenderedEmail; unsubscribe: string | undefined; digested?: { windowId: string; keys: string[] } };

const isUuid = (value: string) => z.uuid().safeParse(value).success;

/** What an `email send` span says of its job (made only while tracing is on). */
function sendAttributes(job: JobWithMetadata<EmailJob>): Record<string, string | number> {
  const { data } = job;
  return {
    'email.kind': data.kind,
    'email.recipient.user_id': data.userId,
    'email.attempt': job.retryCount + 1,
    'messaging.message.id': job.id,
    ...(data.kind === 'notification' ? { 'notification.id': data.notification.id } : {}),
    ...(data.kind === 'digest' ? { 'email.digest.window_id': data.windowId } : {}),
  };
}

export class Sender {
  private inFlight = 0;
  private peak = 0;
  private readonly m;

  constructor(
    private readonly d: {
      config: Readonly<Config>;
      transport: MailTransport;
      queue: MailQueue;
      digests: DigestStore;
      auth: ServiceClient<typeof authContract.routes>;
      persist: ServiceClient<typeof persistContract.routes>;
      log: FastifyBaseLogger;
      metrics: Registry;
      instanceId: () => string;
    },
  ) {
    const registers = [d.metrics];
    const inFlight = () => this.inFlight;
    const peak = () => this.peak;
    this.m = {
      sent: new Counter({ name: METRIC.mailerEmailsSentTotal, help: 'Emails the SMTP server accepted', labelNames: ['kind'], registers }),
      failed: new Counter({ name: METRIC.mailerEmailsFailedTotal, help: 'Send attempts that failed', labelNames: ['kind', 'reason'], registers }),
      retried: new Counter({ name: METRIC.mailerEmailsRetriedTotal, help: 'Send attempts that were retries of an earlier one', labelNames: ['kind'], registers }),
      dead: new Counter({ name: METRIC.mailerEmailsDeadTotal, help: 'Emails given up on (permanent refusal or last retry failed)', labelNames: ['kind'], registers }),
      duration: new Histogram({
        name: METRIC.mailerSendDuration,
        help: 'Time to hand one email to the SMTP server, in seconds',
        labelNames: ['outcome'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    };
    new Gauge({ name: METRIC.mailerSendsInFlight, help: 'Emails this node is sending now', registers, collect() { this.set(inFlight()); } });
    new Gauge({ name: METRIC.mailerSendsInFlightPeak, help: 'Most emails this node has sent at once since it started', registers, collect() { this.set(peak()); } });
    new Gauge({ name: METRIC.mailerSendConcurrencyLimit, help: 'MAX_CONCURRENT_SENDS of this node', registers }).set(d.config.MAX_CONCURRENT_SENDS);
  }

  /**
   * One attempt at one job, in an `email send` span continuing the trace of the request that queued
   * it (a new trace for a digest, linked to the traces of the emails it lists); the lookups and the
   * SMTP send are its children, and its log lines name it.
   */
  readonly handle = (job: JobWithMetadata<EmailJob>): Promise<JobResult> =>
    inSpan('email send', { kind: SpanKind.CONSUMER, parent: contextFrom(job.data.traceparent), ...(tracingOn() ? { attributes: sendAttributes(job) } : {}) }, (span) => this.send(job, span));

  private async send(job: JobWithMetadata<EmailJob>, span: Span): Promise<JobResult> {
    const { kind } = job.data;
    if (job.retryCount > 0) this.m.retried.inc({ kind });
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    const stop = this.m.duration.startTimer();
    const outcome = (value: string) => {
      if (tracingOn()) span.setAttribute('email.outcome', value);
    };
    try {
      const recipient = await this.recipient(job.data);
      if (!recipient) {
        stop({ outcome: 'skipped' });
        outcome('skipped');
        return { id: job.id, status: 'completed', output: { skipped: 'the user no longer exists' } };
      }
      const plan = await this.plan(job.data, recipient, span);
      if ('skip' in plan) {
        stop({ outcome: 'skipped' });
        outcome('skipped');
        return { id: job.id, status: 'completed', output: { skipped: plan.skip } };
      }
      const messageId = messageIdOf(job.data.key);
      const result = await inSpan('smtp send', { kind: SpanKind.CLIENT }, () =>
        this.d.transport.send(
          {
            from: this.d.config.MAIL_FROM,
            to: recipient.email,
            ...plan.rendered,
            messageId,
            headers: {
              'X-Idempotency-Key': job.data.key,
              'X-Mailer-Node': this.d.instanceId(),
              // One-click unsubscribe (RFC 8058): the mail client POSTs `List-Unsubscribe=One-Click` to the URL.
              ...(plan.unsubscribe ? { 'List-Unsubscribe': `<${plan.unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {}),
            },
          },
          this.d.config.SEND_EMAIL_TIMEOUT_MS,
        ),
      );
      stop({ outcome: 'sent' });
      outcome('sent');
      this.m.sent.inc({ kind });
      // Sent is sent: from here nothing may fail the job (a retry would email the person again).
      if (job.data.kind === 'notification') await this.queueTrace(job.data, messageId);
      if (plan.digested) await this.markDigested(plan.digested.windowId, plan.digested.keys);
      return { id: job.id, status: 'completed', output: { messageId, to: recipient.email, response: result.response, attempts: job.retryCount + 1 } };
    } catch (error) {
      stop({ outcome: 'failed' });
      const permanent = error instanceof SendError && error.permanent;
      const last = permanent || job.retryCount >= job.retryLimit;
      this.m.failed.inc({ kind, reason: permanent ? 'refused' : error instanceof SendError ? 'smtp' : 'lookup' });
      if (last) this.m.dead.inc({ kind });
      if (tracingOn()) {
        failSpan(span, error);
        span.setAttribute('email.outcome', last ? 'given up' : 'failed');
      }
      this.d.log.warn({ err: error, jobId: job.id, key: job.data.key, attempt: job.retryCount + 1, permanent, last }, last ? 'email given up' : 'email send failed; will retry');
      const output = { error: (error as Error).message, attempt: job.retryCount + 1 };
      return { id: job.id, status: permanent ? 'deadletter' : 'failed', output };
    } finally {
      this.inFlight -= 1;
    }
  }

  /** What to send for a job, or why nothing is sent (a notification's email turned off, or held for a digest). */
  private async plan(job: EmailJob, to: Recipient, span: Span): Promise<Plan> {
    const clientUrl = this.d.config.CLIENT_URL;
    if (job.kind === 'welcome') return { rendered: welcomeEmail({ name: to.name, clientUrl }), unsubscribe: undefined };
    if (job.kind === 'digest') return this.planDigest(job, to, span);
    const { topic, title, body, id } = job.notification;
    // Read at send time: a preference changed since the publication still counts.
    const preferences = await this.d.persist.emailPreferences({ params: { userId: job.userId }, query: isUuid(topic.id) ? { topicId: topic.id } : {} });
    if (!preferences.email) return { skip: 'the user turned notification emails off' };
    if (preferences.subscription && (preferences.subscription.muted || !preferences.subscription.email)) return { skip: 'the user turned this topic’s emails off' };
    if (preferences.digest) {
      const decision = await this.d.digests.decide<Held>(job.key, job.userId, preferences.digest, {
        notification: job.notification,
        unsubscribe: job.unsubscribe,
        // Its trace, for the digest's span to link to.
        ...(job.traceparent ? { traceparent: job.traceparent } : {}),
      });
      if (!decision.send) {
        // Queued once per window (its id is fixed by the window), for the window's end.
        await this.d.queue.enqueueDigest(digestJob(job.userId, decision.windowId), decision.endsAt);
        return { skip: `held for the digest of window ${decision.windowId}` };
      }
    }
    return { rendered: notificationEmail({ name: to.name, topicName: topic.name, title, body, link: notificationLink(clientUrl, id) }), unsubscribe: job.unsubscribe?.topic };
  }

  /** One email listing what the window held back and no digest sent yet; nothing when there is none. */
  private async planDigest(job: DigestJob, to: Recipient, span: Span): Promise<Plan> {
    const held: HeldItem<Held>[] = await this.d.digests.held<Held>(job.userId, job.windowId);
    if (held.length === 0) return { skip: 'nothing held for this digest (sent already)' };
    if (tracingOn()) {
      // The digest sends what many publications asked for: its span links to each one's trace.
      span.addLinks(held.flatMap(({ item }) => linkFrom(item.traceparent) ?? []));
      span.setAttribute('email.digest.items', held.length);
    }
    const clientUrl = this.d.config.CLIENT_URL;
    const items = held.map(({ item }) => ({ topicName: item.notification.topic.name, title: item.notification.title, link: notificationLink(clientUrl, item.notification.id) }));
    return {
      rendered: digestEmail({ name: to.name, items, clientUrl }),
      unsubscribe: held.findLast(({ item }) => item.unsubscribe)?.item.unsubscribe?.all,
      digested: { windowId: job.windowId, keys: held.map(({ key }) => key) },
    };
  }

  /** After a digest is sent; a failure is logged (a retry would find them and send the digest again, same Message-ID). */
  private async markDigested(windowId: string, keys: string[]): Promise<void> {
    try {
      await this.d.digests.markDigested(windowId, keys);
    } catch (error) {
      this.d.log.error({ err: error, windowId }, 'digest sent, but its emails could not be marked sent');
    }
  }

  /** Queues the `emailed` trace event; a failure is logged, never retried by sending again. */
  private async queueTrace(job: NotificationJob, messageId: string): Promise<void> {
    try {
      const traceparent = currentTraceparent();
      await this.d.queue.recordEmailed(job.key, { notificationId: job.notification.id, userId: job.userId, messageId, sentAt: new Date().toISOString(), ...(traceparent ? { traceparent } : {}) });
    } catch (error) {
      this.d.log.error({ err: error, key: job.key }, 'email sent, but its emailed trace event could not be queued');
    }
  }

  /** The address to send to; undefined when the user is gone (nothing to send, nothing to retry). */
  private async recipient(job: EmailJob): Promise<Recipient | undefined> {
    if (job.kind === 'welcome') return { email: job.to, name: job.name };
    try {
      return await this.d.auth.getUser({ params: { id: job.userId } });
    } catch (error) {
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

}
