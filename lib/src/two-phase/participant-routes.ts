// The contract's participant routes: prepare, commit, rollback and state, over a Participant.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { createError } from '../errors.ts';
import { toAppError } from '../service/error-handler.ts';
import type { ZodTypeProvider } from '../service/validation.ts';
import { decisionBatchRequest, decisionRequest, prepareBatchRequest, prepareRequest, txId } from './protocol.ts';
import type { Participant, SqlClient } from './participant.ts';

/**
 * A no vote, always a 4xx as the contract says: the error's own 4xx, else 409 (a participant that
 * could not stage the change, for whatever reason, votes no; the body's code says why).
 */
export function sendNoVote(reply: FastifyReply, error: unknown): FastifyReply {
  const appError = toAppError(error);
  if (appError.code === 'INTERNAL' || appError.code === 'UNAVAILABLE') reply.log.error({ err: error }, 'prepare failed');
  const status = appError.statusCode >= 400 && appError.statusCode < 500 ? appError.statusCode : 409;
  return reply.code(status).send({ vote: 'no', error: appError.toJSON().error });
}

export async function participantRoutes<Tx extends SqlClient>(
  app: FastifyInstance,
  { participant, coordinator }: { participant: Participant<Tx>; /** The coordinator's service name: the only caller these routes accept. */ coordinator: string },
): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, callers: [coordinator] };
  });
  const typed = app.withTypeProvider<ZodTypeProvider>();

  // A malformed prepare is a no vote too, in the vote's shape.
  typed.post('/api/prepare_2pc', { schema: { body: prepareRequest }, attachValidation: true }, async (request, reply) => {
    if (request.validationError) return sendNoVote(reply, request.validationError);
    try {
      const { requestId } = await participant.prepare(request.body);
      return { vote: 'yes', request_id: requestId };
    } catch (error) {
      return sendNoVote(reply, error);
    }
  });

  typed.post('/api/commit_2pc', { schema: { body: decisionRequest } }, async (request) => ({ ack: true, transaction: await participant.commit(request.body.txId) }));

  typed.delete('/api/rollback_2pc', { schema: { body: decisionRequest } }, async (request) => ({ ack: true, transaction: await participant.rollback(request.body.txId) }));

  // Batches: one database transaction each; one vote or result per item, in the request's order.
  // A malformed batch is a 400 and changes nothing.
  typed.post('/api/prepare_2pc/batch', { schema: { body: prepareBatchRequest } }, async (request) => ({ votes: await participant.prepareBatch(request.body.items) }));

  typed.post('/api/commit_2pc/batch', { schema: { body: decisionBatchRequest } }, async (request) => ({ results: await participant.decideBatch(request.body.txIds, 'committed') }));

  typed.post('/api/rollback_2pc/batch', { schema: { body: decisionBatchRequest } }, async (request) => ({ results: await participant.decideBatch(request.body.txIds, 'aborted') }));

  typed.get('/api/2pc/:txId', { schema: { params: z.object({ txId }) } }, async (request) => {
    const state = await participant.state(request.params.txId);
    if (!state) throw createError({ code: 'NOT_FOUND', message: `no transaction ${request.params.txId}`, details: { txId: request.params.txId } });
    return state;
  });
}
