// /api/topics: create, list (all, mine, subscribed), read, delete (creator only), subscribe,
// unsubscribe, and a topic's subscribers. The acting user comes from the caller's verified credential.
import type { FastifyInstance } from 'fastify';
import { createError, type ZodTypeProvider } from '@notify/lib';
import { decodeTimeCursor, encodeTimeCursor, page } from '../domain/cursor.ts';
import { createTopicBody, listTopicsQuery, subscribersQuery, topicParams, topicView } from '../domain/schemas.ts';
import { checkDelete, liveTopic } from '../domain/topics.ts';
import type { Database } from '../store/database.ts';
import { subscribe, subscriberPage, unsubscribe } from '../store/subscriptions.ts';
import { createTopic, deleteTopic, findTopic, listTopics } from '../store/topics.ts';
import { actingUser } from './identity.ts';

export async function topicRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.post('/api/topics', { schema: { body: createTopicBody } }, async (request, reply) => {
    const creatorId = actingUser(request);
    const topic = await createTopic(db, { name: request.body.name, description: request.body.description, creatorId });
    if (!topic) throw createError({ code: 'CONFLICT', message: 'a topic with this name exists', details: { field: 'name' } });
    reply.code(201);
    return topicView(topic);
  });

  typed.get('/api/topics', { schema: { querystring: listTopicsQuery } }, async (request) => {
    const userId = actingUser(request);
    const { mine, subscribed, limit, cursor } = request.query;
    const rows = await listTopics(db, { userId, mine, subscribed, after: decodeTimeCursor(cursor), take: limit + 1 });
    const { items, nextCursor } = page(rows, limit, encodeTimeCursor);
    return { topics: items.map(topicView), nextCursor };
  });

  typed.get('/api/topics/:id', { schema: { params: topicParams } }, async (request) => topicView(liveTopic(await findTopic(db, request.params.id), request.params.id)));

  typed.delete('/api/topics/:id', { schema: { params: topicParams } }, async (request) => {
    const user = actingUser(request);
    await deleteTopic(db, request.params.id, (topic) => checkDelete(topic, user, request.params.id));
    return { ok: true };
  });

  typed.post('/api/topics/:id/subscriptions', { schema: { params: topicParams } }, async (request, reply) => {
    const user = actingUser(request);
    const { subscription, created } = await subscribe(db, request.params.id, user, (topic) => liveTopic(topic, request.params.id));
    reply.code(created ? 201 : 200);
    return { topicId: subscription.topicId, userId: subscription.userId, createdAt: subscription.createdAt.toISOString() };
  });

  typed.delete('/api/topics/:id/subscriptions', { schema: { params: topicParams } }, async (request) => {
    const user = actingUser(request);
    if (!(await unsubscribe(db, request.params.id, user))) throw createError({ code: 'NOT_FOUND', message: 'not subscribed to this topic', details: { topicId: request.params.id } });
    return { ok: true };
  });

  // Pages of up to 10,000 (not 100): the gateway reads every subscriber before it publishes.
  typed.get('/api/topics/:id/subscribers', { schema: { params: topicParams, querystring: subscribersQuery } }, async (request) => {
    const topic = liveTopic(await findTopic(db, request.params.id), request.params.id);
    const { limit, cursor } = request.query;
    const { items, nextCursor } = page(await subscriberPage(db, request.params.id, cursor, limit + 1), limit, (userId) => userId);
    // The topic comes along: a publisher reading its audience needs nothing else from here.
    return { topic: topicView(topic), subscribers: items, nextCursor };
  });
}
