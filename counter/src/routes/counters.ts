// GET /api/counters/:userId: a user's unread count; POST /api/counters/query: many users' counts
// at once (for the gateway). Committed changes only: staged ones live apart, in staged_changes.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import { counterParams, queryBody } from '../domain/schemas.ts';
import { unreadOf, unreadOfMany } from '../store/counters.ts';
import type { Database } from '../store/database.ts';

export async function counterRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get('/api/counters/:userId', { schema: { params: counterParams } }, async (request) => ({
    userId: request.params.userId,
    unread: await unreadOf(db, request.params.userId),
  }));

  typed.post('/api/counters/query', { schema: { body: queryBody } }, async (request) => ({
    counters: await unreadOfMany(db, request.body.userIds),
  }));
}
