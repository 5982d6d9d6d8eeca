// The coordinator's participant-facing route: `GET /api/2pc/:txId`, what became of a transaction.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createError } from '../errors.ts';
import type { ZodTypeProvider } from '../service/validation.ts';
import type { Coordinator } from './coordinator.ts';
import { txId } from './protocol.ts';

export async function coordinatorRoutes(
  app: FastifyInstance,
  { coordinator, participants }: { coordinator: Coordinator; /** Services that may ask: the participants. */ participants: readonly string[] },
): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/api/2pc/:txId', { schema: { params: z.object({ txId }) }, config: { callers: participants } }, async (request) => {
    const state = await coordinator.state(request.params.txId);
    // "No record", which participants take as abort, names the transaction (see protocol.ts).
    if (!state) throw createError({ code: 'NOT_FOUND', message: `no record of transaction ${request.params.txId}`, details: { txId: request.params.txId } });
    return { txId: request.params.txId, state };
  });
}
