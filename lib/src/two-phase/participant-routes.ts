// The contract's participant routes: prepare, commit, rollback and state, over a Participant.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { createError } from '../errors.ts';
import { toAppError } from '../service/error-handler.ts';
import type { ZodTypeProvider } from '../service/validation.ts';
import { decisionRequest, prepareRequest, txId } from './protocol.ts';
import type { Participant, SqlClient } from './participant.ts';

/** A no vote: the contract's 409 (or the error's own 4xx/5xx) with `{vote:"no", error}`. */
export function sendNoVote(reply: FastifyReply, error: unknown): FastifyReply {
  const appError = toAppError(error);
  if (appError.code === 'INTERNAL') reply.log.error({ err: error }, 'prepare failed');
  return reply.code(appError.statusCode).send({ vote: 'no', error: appError.toJSON().error });
}

export async function participantRoutes<Tx extends SqlClient>(app: FastifyInstance, { participant }: { participant: Participant<Tx> }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.post('/api/prepare_2pc', { schema: { body: prepareRequest } }, async (request, reply) => {
    try {
      const { requestId } = await participant.prepare(request.body);
      return { vote: 'yes', request_id: requestId };
    } catch (error) {
      return sendNoVote(reply, error);
    }
  });

  typed.post('/api/commit_2pc', { schema: { body: decisionRequest } }, async (request) => ({ ack: true, transaction: await participant.commit(request.body.txId) }));

  typed.delete('/api/rollback_2pc', { schema: { body: decisionRequest } }, async (request) => ({ ack: true, transaction: await participant.rollback(request.body.txId) }));

  typed.get('/api/2pc/:txId', { schema: { params: z.object({ txId }) } }, async (request) => {
    const state = await participant.state(request.params.txId);
    if (!state) throw createError({ code: 'NOT_FOUND', message: `no transaction ${request.params.txId}`, details: { txId: request.params.txId } });
    return state;
  });
}
