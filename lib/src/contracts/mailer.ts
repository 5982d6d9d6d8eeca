// The mailer's REST API for other services: queue the welcome email and a notification's emails.
// Queuing is idempotent (an email's key names its job), so a repeated request queues nothing twice.
import { z } from 'zod';
import { defineContract, defineRoute } from './contract.ts';

const userId = z.string().min(1).max(128);
const email = z.email().max(320);
/** Recipients per notification request (its limit). */
export const MAILER_MAX_RECIPIENTS = 10_000;
/** Recipients per request when it carries their unsubscribe URLs (about 600 bytes each): well under the body limit. */
export const MAILER_MAX_RECIPIENTS_WITH_LINKS = 1_000;

export const welcomeRequest = z.strictObject({
  userId,
  email,
  name: z.string().trim().min(1).max(100),
});
export type WelcomeRequest = z.infer<typeof welcomeRequest>;

export const notificationEmailsRequest = z.strictObject({
  notificationId: z.string().min(1).max(128),
  topic: z.strictObject({ id: z.string().min(1).max(128), name: z.string().min(1).max(200) }),
  title: z.string().min(1).max(200),
  body: z.string().max(10_000),
  /** Who gets the email: user ids, resolved to addresses by auth when each email is sent. */
  recipients: z.array(userId).min(1).max(MAILER_MAX_RECIPIENTS),
  /**
   * Each recipient's one-click unsubscribe URLs (RFC 8058), signed by the gateway: `topic` turns
   * off this topic's emails, `all` every notification email (a digest's link). The mailer sends
   * them as they are (List-Unsubscribe); it holds no secret.
   */
  unsubscribe: z.record(userId, z.strictObject({ topic: z.url().max(2_000), all: z.url().max(2_000) })).optional(),
});
export type NotificationEmailsRequest = z.infer<typeof notificationEmailsRequest>;

const queued = { queued: z.number(), duplicates: z.number() };

export const mailerContract = defineContract('mailer', {
  welcome: defineRoute({ method: 'POST', path: '/api/emails/welcome', body: welcomeRequest, response: z.object({ jobId: z.string(), ...queued }), idempotent: true }),
  notificationEmails: defineRoute({
    method: 'POST',
    path: '/api/emails/notification',
    body: notificationEmailsRequest,
    response: z.object({ jobIds: z.array(z.string()), ...queued }),
    idempotent: true,
  }),
});
