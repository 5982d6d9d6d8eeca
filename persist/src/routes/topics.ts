// /api/topics: create, list (all, mine, subscribed), read, delete (creator only), subscribe,
// unsubscribe, and a topic's subscribers (by id for a publication, with names for its creator). The
// acting user comes from the caller's verified credential; the names the gateway sends are its
// session's.
import type { FastifyInstance } from 'fastify';
import { createError, serveRoute } from '@notify/lib';
import { persistContract } from '@notify/lib/contracts';
import { decodeTimeCursor, decodeUserCursor, encodeTimeCursor, encodeUserCursor, page } from '../domain/cursor.ts';
import { subscriptionView, topicView } from '../domain/schemas.ts';
import { checkDelete, checkSubscriberList, liveTopic } from '../domain/topics.ts';
import type { Database } from '../store/database.ts';
import { subscribe, subscriberNamePage, subscriberPage, unsubscribe } from '../store/subscriptions.ts';
import { createTopic, deleteTopic, findTopic, listTopics } from '../store/topics.ts';
import { actingUser } from './identity.ts';

const routes = persistContract.routes;

export async function topicRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  serveRoute(app, routes.createTopic, {}, async (request, reply) => {
    const creatorId = actingUser(request);
    const { name, description, creatorName } = request.body;
    const topic = await createTopic(db, { name, description, creatorId, creatorName });
    if (!topic) throw createError({ code: 'CONFLICT', message: 'a topic with this name exists', details: { field: 'name' } });
    reply.code(201);
    return topicView(topic);
  });

  serveRoute(app, routes.listTopics, {}, async (request) => {
    const userId = actingUser(request);
    const { mine, subscribed, limit, cursor } = request.query;
    const rows = await listTopics(db, { userId, mine, subscribed, after: decodeTimeCursor(cursor), take: limit + 1 });
    const { items, nextCursor } = page(rows, limit, encodeTimeCursor);
    // Each topic says whether the caller follows it, and how (their preferences).
    return { topics: items.map((row) => ({ ...topicView(row), subscription: row.subscription })), nextCursor };
  });

  serveRoute(app, routes.getTopic, {}, async (request) => topicView(liveTopic(await findTopic(db, request.params.id), request.params.id)));

  serveRoute(app, routes.deleteTopic, {}, async (request) => {
    const user = actingUser(request);
    await deleteTopic(db, request.params.id, (topic) => checkDelete(topic, user, request.params.id));
    return { ok: true as const };
  });

  serveRoute(app, routes.subscribe, {}, async (request, reply) => {
    const user = actingUser(request);
    const { subscription, created } = await subscribe(db, request.params.id, user, request.body?.name ?? '', (topic) => liveTopic(topic, request.params.id));
    reply.code(created ? 201 : 200);
    return subscriptionView(subscription);
  });

  serveRoute(app, routes.unsubscribe, {}, async (request) => {
    const user = actingUser(request);
    if (!(await unsubscribe(db, request.params.id, user))) throw createError({ code: 'NOT_FOUND', message: 'not subscribed to this topic', details: { topicId: request.params.id } });
    return { ok: true as const };
  });

  // Pages of up to 10,000 (not 100): the gateway reads every subscriber before it publishes.
  serveRoute(app, routes.listSubscribers, {}, async (request) => {
    const topic = liveTopic(await findTopic(db, request.params.id), request.params.id);
    const { limit, cursor } = request.query;
    const { items, nextCursor } = page(await subscriberPage(db, request.params.id, cursor, limit + 1), limit, (row) => row.userId);
    // The topic comes along: a publisher reading its audience needs nothing else from here.
    return {
      topic: topicView(topic),
      subscribers: items.map((row) => row.userId),
      // The preferences a publication honours (and persist's prepare checks it honoured).
      muted: items.filter((row) => row.muted).map((row) => row.userId),
      emailOptOut: items.filter((row) => !row.email).map((row) => row.userId),
      nextCursor,
    };
  });

  /** A page of the topic's subscribers with their names, for its creator (to pick whom a publication names). */
  serveRoute(app, routes.listSubscriberNames, {}, async (request) => {
    const user = actingUser(request);
    checkSubscriberList(await findTopic(db, request.params.id), user, request.params.id);
    const { limit, cursor } = request.query;
    const rows = await subscriberNamePage(db, request.params.id, decodeUserCursor(cursor), limit + 1);
    const { items, nextCursor } = page(rows, limit, (subscriber) => encodeUserCursor(subscriber.id));
    return { subscribers: items, nextCursor };
  });
}
