// counter's API: unread counts, one user's or many at once, and its two-phase-commit actions.
import { z } from 'zod';
import { defineContract, defineParticipantAction, defineRoute } from './contract.ts';

const userId = z.string().min(1).max(128);
const distinct = (ids: string[]) => new Set(ids).size === ids.length;

export const countersQueryBody = z.strictObject({ userIds: z.array(userId).min(1).max(10_000).refine(distinct, 'userIds must not repeat') });

/** A publication adds one unread to each recipient. */
export const counterCreatePayload = z.object({
  notificationId: z.string().min(1).max(128),
  recipients: z.array(userId).max(100_000).refine(distinct, 'recipients must not repeat'),
});
/** An acknowledgement takes one off. */
export const counterAckPayload = z.object({ notificationId: z.string().min(1).max(128), userId });
/** Marking all read takes off exactly the number of deliveries persist claims for it (its `expected`). */
export const counterReadAllPayload = z.strictObject({ userId, count: z.number().int().min(1).max(10_000_000) });

export const counterContract = defineContract('counter', {
  getCounter: defineRoute({ method: 'GET', path: '/api/counters/:userId', params: z.object({ userId }), response: z.object({ userId: z.string(), unread: z.number() }), idempotent: true }),
  /** Every given user's count; 0 for a user never counted. */
  queryCounters: defineRoute({ method: 'POST', path: '/api/counters/query', body: countersQueryBody, response: z.object({ counters: z.record(z.string(), z.number()) }), idempotent: true }),
});

export const counterActions = {
  notificationCreate: defineParticipantAction('counter', 'notification.create', counterCreatePayload),
  notificationAck: defineParticipantAction('counter', 'notification.ack', counterAckPayload),
  notificationReadAll: defineParticipantAction('counter', 'notification.read_all', counterReadAllPayload),
};
