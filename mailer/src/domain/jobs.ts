// What the queue holds: one job per email, named by an idempotency key. The key fixes the job's id
// (enqueuing the same email twice keeps one job) and the email's Message-ID (a retry after an
// unclear SMTP answer carries the same id, so a server that remembers ids can drop the copy).
import { createHash } from 'node:crypto';
import { z } from 'zod';

const userId = z.string().min(1).max(128);
const email = z.email().max(320);

export const welcomeRequest = z.strictObject({
  userId,
  email,
  name: z.string().trim().min(1).max(100),
});
export type WelcomeRequest = z.infer<typeof welcomeRequest>;

export const notificationRequest = z.strictObject({
  notificationId: z.string().min(1).max(128),
  topic: z.strictObject({ id: z.string().min(1).max(128), name: z.string().min(1).max(200) }),
  title: z.string().min(1).max(200),
  body: z.string().max(10_000),
  /** Who gets the email: user ids, resolved to addresses by auth when each email is sent. */
  recipients: z.array(userId).min(1).max(10_000),
});
export type NotificationRequest = z.infer<typeof notificationRequest>;

export type EmailJob =
  | { kind: 'welcome'; key: string; userId: string; to: string; name: string }
  | {
      kind: 'notification';
      key: string;
      userId: string;
      notification: { id: string; topic: { id: string; name: string }; title: string; body: string };
    };

/** After a notification email is sent: record `emailed` in the notification's trace. */
export interface TraceJob {
  notificationId: string;
  userId: string;
  messageId: string;
  sentAt: string;
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
  }));
}

/** A UUID (version 8, name-based) derived from the key: the same key always names the same job. */
export function jobIdOf(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The email's Message-ID: fixed by the key, so every attempt of one email carries the same one. */
export function messageIdOf(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@notify.mailer>`;
}
