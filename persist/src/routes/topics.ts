// /api/topics: create, list (all, mine, subscribed), read, delete (creator only), subscribe,
// unsubscribe, and a topic's subscribers. The acting user comes from the caller's verified credential.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createError, type ZodTypeProvider } from '@notify/lib';
import { afterTimeCursor, encodeTimeCursor, page } from '../domain/cursor.ts';
import { createTopicBody, listTopicsQuery, subscribersQuery, topicParams, topicView } from '../domain/schemas.ts';
import { isUniqueViolation } from '@notify/lib/db';
import type { Database } from '../store/database.ts';
import { actingUser } from './identity.ts';

export async function topicRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  const liveTopic = async (id: string) => {
    const topic = await db.topic.findUnique({ where: { id } });
    if (!topic || topic.deletedAt) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId: id } });
    return topic;
  };

  typed.post('/api/topics', { schema: { body: createTopicBody } }, async (request, reply) => {
    const creatorId = actingUser(request);
    try {
      const topic = await db.topic.create({ data: { id: randomUUID(), name: request.body.name, description: request.body.description, creatorId } });
      reply.code(201);
      return topicView(topic);
    } catch (error) {
      if (isUniqueViolation(error)) throw createError({ code: 'CONFLICT', message: 'a topic with this name exists', details: { field: 'name' } });
      throw error;
    }
  });

  typed.get('/api/topics', { schema: { querystring: listTopicsQuery } }, async (request) => {
    const user = actingUser(request);
    const { mine, subscribed, limit, cursor } = request.query;
    const rows = await db.topic.findMany({
      where: {
        deletedAt: null,
        ...(mine ? { creatorId: user } : {}),
        ...(subscribed ? { subscriptions: { some: { userId: user } } } : {}),
        ...afterTimeCursor(cursor),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
    const { items, nextCursor } = page(rows, limit, encodeTimeCursor);
    return { topics: items.map(topicView), nextCursor };
  });

  typed.get('/api/topics/:id', { schema: { params: topicParams } }, async (request) => topicView(await liveTopic(request.params.id)));

  typed.delete('/api/topics/:id', { schema: { params: topicParams } }, async (request) => {
    const user = actingUser(request);
    // Locked while deciding, so two deletes (or a delete and a subscribe) do not interleave.
    await db.$transaction(async (tx) => {
      const [topic] = await tx.$queryRawUnsafe<{ creator_id: string; deleted_at: Date | null }[]>(
        'SELECT creator_id, deleted_at FROM topics WHERE id = $1::uuid FOR UPDATE',
        request.params.id,
      );
      if (!topic || topic.deleted_at) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId: request.params.id } });
      if (topic.creator_id !== user) throw createError({ code: 'FORBIDDEN', message: 'only the topic’s creator may delete it', details: { topicId: request.params.id } });
      // Soft delete: its notifications stay readable and ackable, so unread counts stay true.
      await tx.topic.update({ where: { id: request.params.id }, data: { deletedAt: new Date() } });
      await tx.subscription.deleteMany({ where: { topicId: request.params.id } });
    });
    return { ok: true };
  });

  typed.post('/api/topics/:id/subscriptions', { schema: { params: topicParams } }, async (request, reply) => {
    const user = actingUser(request);
    const { subscription, created } = await db.$transaction(async (tx) => {
      const [topic] = await tx.$queryRawUnsafe<{ deleted_at: Date | null }[]>('SELECT deleted_at FROM topics WHERE id = $1::uuid FOR SHARE', request.params.id);
      if (!topic || topic.deleted_at) throw createError({ code: 'NOT_FOUND', message: 'no such topic', details: { topicId: request.params.id } });
      const key = { topicId_userId: { topicId: request.params.id, userId: user } };
      const existing = await tx.subscription.findUnique({ where: key });
      if (existing) return { subscription: existing, created: false };
      return { subscription: await tx.subscription.upsert({ where: key, create: { topicId: request.params.id, userId: user }, update: {} }), created: true };
    });
    reply.code(created ? 201 : 200);
    return { topicId: subscription.topicId, userId: subscription.userId, createdAt: subscription.createdAt.toISOString() };
  });

  typed.delete('/api/topics/:id/subscriptions', { schema: { params: topicParams } }, async (request) => {
    const user = actingUser(request);
    const { count } = await db.subscription.deleteMany({ where: { topicId: request.params.id, userId: user } });
    if (count === 0) throw createError({ code: 'NOT_FOUND', message: 'not subscribed to this topic', details: { topicId: request.params.id } });
    return { ok: true };
  });

  // Pages of up to 10,000 (not 100): the gateway reads every subscriber before it publishes.
  typed.get('/api/topics/:id/subscribers', { schema: { params: topicParams, querystring: subscribersQuery } }, async (request) => {
    const topic = await liveTopic(request.params.id);
    const { limit, cursor } = request.query;
    const rows = await db.subscription.findMany({
      where: { topicId: request.params.id, ...(cursor ? { userId: { gt: cursor } } : {}) },
      orderBy: { userId: 'asc' },
      take: limit + 1,
      select: { userId: true },
    });
    const { items, nextCursor } = page(rows, limit, (row) => row.userId);
    // The topic comes along: a publisher reading its audience needs nothing else from here.
    return { topic: topicView(topic), subscribers: items.map((row) => row.userId), nextCursor };
  });
}
