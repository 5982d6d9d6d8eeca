// What the queue holds: one job per email, named by an idempotency key. The key fixes the job's id
// (enqueuing the same email twice keeps one job) and the email's Message-ID (a retry after an
// unclear SMTP answer carries the same id, so a server that remembers ids can drop the copy).
import { createHash } from 'node:crypto';
import { nameBasedUuid } from '@notify/lib';
// The REST API's request bodies are the mailer's contract in the kit (which its callers compile against).
import type { NotificationEmailsRequest as NotificationRequest, WelcomeRequest } from '@notify/lib/contracts';

export type EmailJob = (
  | { kind: 'welcome'; key: string; userId: string; to: string; name: string }
  | {
      kind: 'notification';
      key: string;
      userId: string;
      notification: NotificationItem;
      /** The recipient's one-click unsubscribe URLs, made and signed by the gateway. */
      unsubscribe?: { topic: string; all: string } | undefined;
    }
  /** One email listing the notification emails held back during one of the user's digest windows. */
  | { kind: 'digest'; key: string; userId: string; windowId: string }
) & {
  /** The enqueuing request's trace context (W3C `traceparent`): the send continues its trace. Only while tracing is on. */
  traceparent?: string | undefined;
};

/** What a notification email (or a digest's line) says. */
export interface NotificationItem {
  id: string;
  topic: { id: string; name: string };
  title: string;
  body: string;
}

/** After a notification email is sent: record `emailed` in the notification's trace. */
export interface TraceJob {
  notificationId: string;
  userId: string;
  messageId: string;
  sentAt: string;
  /** The send's trace context: recording the event continues its trace. Only while tracing is on. */
  traceparent?: string | undefined;
}

export function welcomeJob(request: WelcomeRequest): EmailJob {
  return { kind: 'welcome', key: `welcome:${request.userId}`, userId: request.userId, to: request.email, name: request.name };
}

export function notificationJobs(request: NotificationRequest): EmailJob[] {
  const notification = { id: request.notificationId, topic: request.topic, title: request.title, body: request.body };
  return [...new Set(request.recipients)].map((userId) => ({
    kind: 'notification',
    key: `notification:${request.notificationId}:${userId}`,
    userId,
    notification,
    unsubscribe: request.unsubscribe?.[userId],
  }));
}

/** The jobs carrying `traceparent` (the active trace's, while tracing is on): their sends continue it. */
export function inTrace(jobs: EmailJob[], traceparent: string | undefined): EmailJob[] {
  return traceparent ? jobs.map((job) => ({ ...job, traceparent })) : jobs;
}

/** The digest of one user's window: its key (so its job id and Message-ID) is fixed by the window. */
export function digestJob(userId: string, windowId: string): EmailJob {
  return { kind: 'digest', key: `digest:${windowId}`, userId, windowId };
}

/** A UUID (version 8, name-based) derived from the key: the same key always names the same job. */
export function jobIdOf(key: string): string {
  return nameBasedUuid(key);
}

/** The email's Message-ID: fixed by the key, so every attempt of one email carries the same one. */
export function messageIdOf(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@notify.mailer>`;
}
