// GET /api/counters/:userId: a user's unread count; POST /api/counters/query: many users' counts
// at once (for the gateway). Committed changes only: staged ones live apart, in staged_changes.
// Paths, requests and answers are counter's contract in the kit.
import type { FastifyInstance } from 'fastify';
import { serveRoute } from '@notify/lib';
import { counterContract } from '@notify/lib/contracts';
import { unreadOf, unreadOfMany } from '../store/counters.ts';
import type { Database } from '../store/database.ts';

const { getCounter, queryCounters } = counterContract.routes;

export async function counterRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  serveRoute(app, getCounter, {}, async (request) => ({ userId: request.params.userId, unread: await unreadOf(db, request.params.userId) }));

  serveRoute(app, queryCounters, {}, async (request) => ({ counters: await unreadOfMany(db, request.body.userIds) }));
}
