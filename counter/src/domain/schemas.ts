// Request schemas and the two-phase-commit actions' payloads; handler types derive from the schemas.
import { z } from 'zod';

export const userId = z.string().min(1).max(128);
const notificationId = z.string().min(1).max(128);

export const counterParams = z.object({ userId });
export const queryBody = z.strictObject({
  userIds: z
    .array(userId)
    .min(1)
    .max(10_000)
    .refine((ids) => new Set(ids).size === ids.length, 'userIds must not repeat'),
});

export const createNotificationPayload = z.object({
  notificationId,
  recipients: z
    .array(userId)
    .max(100_000)
    .refine((ids) => new Set(ids).size === ids.length, 'recipients must not repeat'),
});
export type CreateNotificationPayload = z.infer<typeof createNotificationPayload>;

export const ackPayload = z.object({ notificationId, userId });
export type AckPayload = z.infer<typeof ackPayload>;
