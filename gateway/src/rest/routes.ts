// The REST API for services under /api/v1: a backend publishes to its owner's topics, reads what it
// published and lists its owner's topics, with an API key as the bearer token (never a session
// token). Each request's key is verified by auth (no cache anywhere, so a revoked key is refused at
// once on every gateway), then takes a token of the key's bucket on this instance. Publications go
// through the same path as the RPC method `notifications.publish`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { createError, REASON, RequestValidationError, type ZodTypeProvider } from '@notify/lib';
import { API_KEY_PATTERN } from '@notify/lib/contracts';
import type { Session } from '../connections.ts';
import type { Publications } from '../publications.ts';
import { hashToken, type Sessions } from '../sessions.ts';
import type { Upstreams } from '../upstreams.ts';
import { docsPage } from './docs-page.ts';
import { openApiDocument } from './openapi.ts';
import { OPERATIONS, publishHeaders, REST_PREFIX, type RestOperation } from './operations.ts';
import type { KeyRateLimiter } from './rate-limit.ts';

export interface RestDependencies {
  upstreams: Pick<Upstreams, 'auth' | 'persist'>;
  sessions: Pick<Sessions, 'publicUser'>;
  publications: Pick<Publications, 'publish'>;
  limiter: KeyRateLimiter;
}

export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** What a part of the request is once the operation's schema for it has parsed it (undefined when it has none). */
type Parsed<Op, Part extends string> = Op extends { [P in Part]: infer S extends z.ZodType } ? z.output<S> : undefined;
interface RestRequest<Op extends RestOperation> {
  params: Parsed<Op, 'params'>;
  query: Parsed<Op, 'query'>;
  body: Parsed<Op, 'body'>;
  headers: FastifyRequest['headers'];
}
/** The verified caller: the key's owner as a session, and as persist's acting user. */
interface Caller {
  session: Session;
  as: { user: string };
}

/**
 * Errors of the routes `app` holds take the clients' shape, {error: {code, message, details}}
 * (`retryable` is the services' own), and a 401 says how to authenticate.
 */
export function clientErrorShape(app: FastifyInstance): void {
  app.addHook('preSerialization', async (_request, _reply, payload: unknown) => {
    const error = (payload as { error?: Record<string, unknown> } | null)?.error;
    if (error && typeof error === 'object' && 'retryable' in error) {
      const { retryable: _dropped, ...rest } = error;
      return { error: rest };
    }
    return payload;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (reply.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="api", error="invalid_token"');
  });
}

export async function restRoutes(app: FastifyInstance, d: RestDependencies): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const document = openApiDocument();
  const page = docsPage(document);

  clientErrorShape(app);

  /** The key's owner as a session (what the publication path takes), after the key's rate is checked. */
  const caller = async (request: FastifyRequest): Promise<Session> => {
    const header = request.headers.authorization;
    const key = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    if (!key) throw createError({ code: 'UNAUTHENTICATED', message: 'an API key is required: Authorization: Bearer nk_…' });
    // Session tokens are refused here without asking auth: this API takes API keys only.
    if (!API_KEY_PATTERN.test(key)) throw createError({ code: 'UNAUTHENTICATED', message: 'not an API key (nk_…); session tokens are not accepted here' });
    const { user, key: apiKey } = await d.upstreams.auth.verifyApiKey({}, { headers: { authorization: `Bearer ${key}` } });
    const waitSeconds = d.limiter.take(apiKey.id);
    if (waitSeconds > 0) {
      throw createError({
        code: 'RATE_LIMITED',
        message: 'too many requests with this API key; try again later',
        details: { reason: REASON.API_KEY_RATE, retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)) },
      });
    }
    return { token: key, tokenHash: hashToken(key), user: d.sessions.publicUser(user) };
  };

  /**
   * One operation's route: its method, path, status and the schemas its params, query and body are
   * validated with all come from the operation (what the OpenAPI document says), and the handler runs
   * only for a verified key within its rate. Headers are the handler's to check.
   */
  const route = <Op extends RestOperation>(op: Op, handler: (request: RestRequest<Op>, caller: Caller) => Promise<unknown>): void => {
    api.route({
      method: op.method,
      url: op.path,
      schema: { ...(op.params && { params: op.params }), ...(op.query && { querystring: op.query }), ...(op.body && { body: op.body }) },
      handler: async (request, reply) => {
        const session = await caller(request);
        const answer = await handler(request as unknown as RestRequest<Op>, { session, as: { user: session.user.id } });
        reply.code(op.status);
        return answer;
      },
    });
  };

  route(OPERATIONS.publish, async (request, { session }) => {
    const header = publishHeaders.safeParse({ 'idempotency-key': request.headers['idempotency-key'] });
    if (!header.success) throw new RequestValidationError('headers', header.error.issues);
    const idempotencyKey = header.data['idempotency-key'];
    return d.publications.publish(session, { topicId: request.params.topicId, ...request.body, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
  });

  route(OPERATIONS.getNotification, async (request, { as }) => {
    const id = request.params.notificationId;
    // The publisher's view first: anyone else is refused before the trace is read.
    const notification = await d.upstreams.persist.getNotification({ params: { id } }, as);
    const { events, traceId } = await d.upstreams.persist.traceNotification({ params: { id } }, as);
    const status =
      notification.recipients > 0 && notification.acknowledged === notification.recipients
        ? ('acknowledged' as const)
        : events.some((event) => event.type === 'delivered')
          ? ('delivered' as const)
          : ('committed' as const);
    return { notification, status, events, traceId };
  });

  // Each topic comes with its subscriber count, counted in the query that lists them.
  route(OPERATIONS.listTopics, async (request, { as }) => d.upstreams.persist.listTopics({ query: { mine: true, ...request.query } }, as));

  app.get(`${REST_PREFIX}/openapi.json`, async () => document);
  app.get(`${REST_PREFIX}/docs`, async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}
