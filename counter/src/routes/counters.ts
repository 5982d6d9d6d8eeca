// GET /api/counters/:userId: a user's unread count (committed changes only).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from '@notify/lib';
import type { Database } from '../store/database.ts';

export async function counterRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/counters/:userId',
    { schema: { params: z.object({ userId: z.string().min(1).max(128) }) } },
    async (request) => {
      const row = await db.counter.findUnique({ where: { userId: request.params.userId } });
      return { userId: request.params.userId, unread: row?.unread ?? 0 };
    },
  );
}
