// The SMTP sink's API (the development mail server `npm start` and the tests run): every email it
// received, in arrival order, and how many repeated Message-IDs it dropped.
import { z } from 'zod';
import { defineContract, defineRoute } from './contract.ts';

export const receivedEmailShape = z.object({
  /** Position in arrival order, from 1. */
  seq: z.number(),
  messageId: z.string(),
  from: z.string(),
  to: z.array(z.string()),
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  headers: z.record(z.string(), z.string()),
  receivedAt: z.string(),
});
export type ReceivedEmail = z.infer<typeof receivedEmailShape>;

export const smtpSinkContract = defineContract('smtp-sink', {
  messages: defineRoute({ method: 'GET', path: '/api/messages', response: z.object({ messages: z.array(receivedEmailShape), duplicates: z.number() }), idempotent: true }),
});
