// The peer-to-peer route of cache replication; only invalidations travel, so a stray call can at
// worst cost a cache miss.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import { REPLICATION_PATH, replicationMessage, type Replicator } from '../cache/replication.ts';

export async function replicationRoutes(app: FastifyInstance, { replicator }: { replicator: Replicator }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(REPLICATION_PATH, { schema: { body: replicationMessage } }, async (request) => {
    await replicator.receive(request.body);
    return { ok: true };
  });
}
