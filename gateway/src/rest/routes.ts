// The REST API for services under /api/v1: a backend publishes to its owner's topics, reads what it
// published and lists its owner's topics, with an API key as the bearer token (never a session
// token). Each request's key is verified by auth (no cache anywhere, so a revoked key is refused at
// once on every gateway), then takes a token of the key's bucket on this instance. Publications go
// through the same path as the RPC method `notifications.publish`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createError, REASON, type ZodTypeProvider } from '@notify/lib';
import { API_KEY_PATTERN } from '@notify/lib/contracts';
import type { Session } from '../connections.ts';
import type { Publications } from '../publications.ts';
import { hashToken, type Sessions } from '../sessions.ts';
import type { Upstreams } from '../upstreams.ts';
import { docsPage } from './docs-page.ts';
import { openApiDocument } from './openapi.ts';
import { OPERATIONS, publishHeaders, REST_PREFIX } from './operations.ts';
import type { KeyRateLimiter } from './rate-limit.ts';

export interface RestDependencies {
  upstreams: Pick<Upstreams, 'auth' | 'persist'>;
  sessions: Pick<Sessions, 'publicUser'>;
  publications: Pick<Publications, 'publish'>;
  limiter: KeyRateLimiter;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export async function restRoutes(app: FastifyInstance, d: RestDependencies): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const document = openApiDocument();
  const page = docsPage(document);

  // Errors here take the clients' shape, {error: {code, message, details}}: `retryable` is the services' own.
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

  const { publish, getNotification, listTopics } = OPERATIONS;

  api.route({
    method: publish.method,
    url: publish.path,
    schema: { params: publish.params, body: publish.body },
    handler: async (request, reply) => {
      const session = await caller(request);
      const header = publishHeaders.safeParse({ 'idempotency-key': request.headers['idempotency-key'] });
      if (!header.success) {
        const issues = header.error.issues.map((issue) => ({ path: ['headers', ...issue.path.map(String)].join('.'), message: issue.message }));
        throw createError({ code: 'INVALID_ARGUMENT', message: issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '), details: { issues } });
      }
      const idempotencyKey = header.data['idempotency-key'];
      const answer = await d.publications.publish(session, { topicId: request.params.topicId, ...request.body, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
      reply.code(201);
      return answer;
    },
  });

  api.route({
    method: getNotification.method,
    url: getNotification.path,
    schema: { params: getNotification.params },
    handler: async (request) => {
      const session = await caller(request);
      const as = { user: session.user.id };
      const id = request.params.notificationId;
      // The publisher's view first: anyone else is refused before the trace is read.
      const notification = await d.upstreams.persist.getNotification({ params: { id } }, as);
      const { events } = await d.upstreams.persist.traceNotification({ params: { id } }, as);
      const status =
        notification.recipients > 0 && notification.acknowledged === notification.recipients
          ? ('acknowledged' as const)
          : events.some((event) => event.type === 'delivered')
            ? ('delivered' as const)
            : ('committed' as const);
      return { notification, status, events };
    },
  });

  api.route({
    method: listTopics.method,
    url: listTopics.path,
    schema: { querystring: listTopics.query },
    handler: async (request) => {
      const session = await caller(request);
      const as = { user: session.user.id };
      // Each topic comes with its subscriber count, counted in the query that lists them.
      return d.upstreams.persist.listTopics({ query: { mine: true, ...request.query } }, as);
    },
  });

  app.get(`${REST_PREFIX}/openapi.json`, async () => document);
  app.get(`${REST_PREFIX}/docs`, async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}
