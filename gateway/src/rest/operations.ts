// The REST API for services, written down once: each operation's method, path, parameters, body and
// answers as zod schemas. The routes validate with them and the OpenAPI document is generated from
// them, so the document cannot drift from what the gateway accepts. Params and the publish body are
// the RPC contract's own schemas.
import { z } from 'zod';
import { notificationShape, publishedNotificationShape, topicShape, traceEventShape } from '@notify/lib/contracts';
import { RPC_PARAMS } from '@notify/lib/rpc';

const publishParams = RPC_PARAMS['notifications.publish'];

export const topicPathParams = z.strictObject({ topicId: publishParams.shape.topicId });
export const notificationPathParams = z.strictObject({ notificationId: RPC_PARAMS['notifications.trace'].shape.notificationId });
/** `notifications.publish` without what the path (`topicId`) and a header (`Idempotency-Key`) carry. */
export const publishBody = publishParams.omit({ topicId: true, idempotencyKey: true });
export const publishHeaders = z.object({
  'idempotency-key': publishParams.shape.idempotencyKey.describe(
    'Passed to the publication as `idempotencyKey`: 1-255 visible ASCII characters naming this request',
  ),
});
export const topicsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional().describe('Topics per page (1-100, default 20)'),
  cursor: z.string().min(1).max(500).optional().describe('What the previous page answered as nextCursor'),
});

export const publishAnswer = z.object({ notification: notificationShape, recipients: z.array(z.string()) });
export const notificationStatus = z
  .enum(['committed', 'delivered', 'acknowledged'])
  .describe('committed: stored for every recipient; delivered: pushed to at least one connection; acknowledged: every recipient acknowledged it');
export const notificationAnswer = z.object({
  notification: publishedNotificationShape,
  status: notificationStatus,
  events: z.array(traceEventShape),
  traceId: z.string().nullable().describe('The trace the publication was made in (W3C trace id, 32 hex digits), to find its spans; null when it was made with tracing off'),
});
export const topicsAnswer = z.object({ topics: z.array(topicShape), nextCursor: z.string().nullable() });
export const errorAnswer = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }),
});

export interface RestOperation {
  method: 'GET' | 'POST';
  /** fastify's form: `/api/v1/topics/:topicId/notifications`. */
  path: string;
  operationId: string;
  summary: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  status: 200 | 201;
  response: z.ZodType;
  /** Error statuses this operation may answer besides 400, 401, 429 and 5xx. */
  errors: number[];
}

export const REST_PREFIX = '/api/v1';

export const OPERATIONS = {
  publish: {
    method: 'POST',
    path: `${REST_PREFIX}/topics/:topicId/notifications`,
    operationId: 'publishNotification',
    summary: 'Publish a notification to one of your topics: every subscriber (or those in `to`) gets the push, and the email with `email: true`',
    params: topicPathParams,
    headers: publishHeaders,
    body: publishBody,
    status: 201,
    response: publishAnswer,
    errors: [403, 404, 409],
  },
  getNotification: {
    method: 'GET',
    path: `${REST_PREFIX}/notifications/:notificationId`,
    operationId: 'getNotification',
    summary: 'A notification you published: its recipients, acknowledgements, status and every trace event',
    params: notificationPathParams,
    status: 200,
    response: notificationAnswer,
    errors: [403, 404],
  },
  listTopics: {
    method: 'GET',
    path: `${REST_PREFIX}/topics`,
    operationId: 'listTopics',
    summary: 'Your own topics, newest first, with their subscriber counts',
    query: topicsQuery,
    status: 200,
    response: topicsAnswer,
    errors: [],
  },
} as const satisfies Record<string, RestOperation>;
