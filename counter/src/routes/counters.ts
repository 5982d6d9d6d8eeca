// GET /api/counters/:userId: a user's unread count; POST /api/counters/query: many users' counts
// at once (for the gateway). Committed changes only: staged ones live apart, in staged_changes.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from '@notify/lib';
import type { Database } from '../store/database.ts';

const userId = z.string().min(1).max(128);
const queryBody = z.strictObject({
  userIds: z
    .array(userId)
    .min(1)
    .max(10_000)
    .refine((ids) => new Set(ids).size === ids.length, 'userIds must not repeat'),
});

export async function counterRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get('/api/counters/:userId', { schema: { params: z.object({ userId }) } }, async (request) => {
    const row = await db.counter.findUnique({ where: { userId: request.params.userId } });
    return { userId: request.params.userId, unread: row?.unread ?? 0 };
  });

  typed.post('/api/counters/query', { schema: { body: queryBody } }, async (request) => ({
    counters: await unreadOf(db, request.body.userIds),
  }));
}

/** Every given user's unread count in one query; 0 for a user never counted (no row yet). */
async function unreadOf(db: Database, userIds: string[]): Promise<Record<string, number>> {
  const rows = await db.$queryRawUnsafe<{ user_id: string; unread: number }[]>('SELECT user_id, unread FROM counters WHERE user_id = ANY($1::text[])', userIds);
  const counted = new Map(rows.map((row) => [row.user_id, row.unread]));
  // fromEntries defines own properties, so an id such as "__proto__" is a key like any other.
  return Object.fromEntries(userIds.map((id) => [id, counted.get(id) ?? 0]));
}
