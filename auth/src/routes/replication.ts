// The peer-to-peer route of cache replication. Only invalidations travel, so a message can at worst
// cost cache misses; with REPLICATION_SECRET set, a message without the secret is refused (401)
// before it is even parsed.
import type { FastifyInstance } from 'fastify';
import { createError, type ZodTypeProvider } from '@notify/lib';
import { REPLICATION_PATH, REPLICATION_SECRET_HEADER, replicationMessage, type Replicator } from '../cache/replication.ts';
import type { AuthMetrics } from '../metrics.ts';

export async function replicationRoutes(app: FastifyInstance, { replicator, metrics }: { replicator: Replicator; metrics: AuthMetrics }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(
    REPLICATION_PATH,
    {
      schema: { body: replicationMessage },
      // Only another auth node (its signed credential), and with REPLICATION_SECRET set, that too.
      config: { callers: ['auth'] },
      onRequest: async (request) => {
        if (replicator.authorize(request.headers[REPLICATION_SECRET_HEADER])) return;
        metrics.replication.inc({ direction: 'received', result: 'unauthorized' });
        throw createError({ code: 'UNAUTHENTICATED', message: 'replication secret missing or wrong' });
      },
    },
    async (request) => {
      await replicator.receive(request.body);
      return { ok: true };
    },
  );
}
