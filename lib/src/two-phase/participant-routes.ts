// The contract's participant routes: prepare, commit, rollback and state, over a Participant.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { trace } from '@opentelemetry/api';
import { z } from 'zod';
import { createError } from '../errors.ts';
import { toAppError } from '../service/error-handler.ts';
import type { ZodTypeProvider } from '../service/validation.ts';
import { decisionBatchRequest, decisionRequest, prepareBatchRequest, prepareRequest, txId, type DecisionBatchRequest } from './protocol.ts';
import { contextFrom, failSpan, inSpan, startSpan, tracingOn } from '../tracing/tracing.ts';
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
      const { requestId } = await inSpan(`prepare ${request.body.action}`, { attributes: { 'twopc.tx_id': request.body.txId } }, () => participant.prepare(request.body));
      return { vote: 'yes', request_id: requestId };
    } catch (error) {
      return sendNoVote(reply, error);
    }
  });

  typed.post('/api/commit_2pc', { schema: { body: decisionRequest } }, async (request) => ({
    ack: true,
    transaction: await inSpan('commit', { attributes: { 'twopc.tx_id': request.body.txId } }, () => participant.commit(request.body.txId)),
  }));

  typed.delete('/api/rollback_2pc', { schema: { body: decisionRequest } }, async (request) => ({
    ack: true,
    transaction: await inSpan('rollback', { attributes: { 'twopc.tx_id': request.body.txId } }, () => participant.rollback(request.body.txId)),
  }));

  // Batches: one database transaction each; one vote or result per item, in the request's order.
  // A malformed batch is a 400 and changes nothing. Each item's step is a span in its own trace.
  typed.post('/api/prepare_2pc/batch', { schema: { body: prepareBatchRequest } }, async (request) => {
    const { items } = request.body;
    const steps = itemSpans(items.map((item) => ({ name: `prepare ${item.action}`, txId: item.txId, traceparent: item.traceparent })));
    const votes = await participant.prepareBatch(items);
    steps?.end(votes.map((vote) => (vote.vote === 'yes' ? undefined : vote.error.code)));
    return { votes };
  });

  const decideBatch = async (body: DecisionBatchRequest, outcome: 'committed' | 'aborted') => {
    const steps = itemSpans(body.txIds.map((id) => ({ name: outcome === 'committed' ? 'commit' : 'rollback', txId: id, traceparent: body.traceparents?.[id] })));
    const results = await participant.decideBatch(body.txIds, outcome);
    steps?.end(results.map((result) => (result.ack ? undefined : result.error.code)));
    return { results };
  };
  typed.post('/api/commit_2pc/batch', { schema: { body: decisionBatchRequest } }, async (request) => decideBatch(request.body, 'committed'));

  typed.post('/api/rollback_2pc/batch', { schema: { body: decisionBatchRequest } }, async (request) => decideBatch(request.body, 'aborted'));

  typed.get('/api/2pc/:txId', { schema: { params: z.object({ txId }) } }, async (request) => {
    const state = await participant.state(request.params.txId);
    if (!state) throw createError({ code: 'NOT_FOUND', message: `no transaction ${request.params.txId}`, details: { txId: request.params.txId } });
    return state;
  });
}

/**
 * One span per item of a batch, each a child of its own transaction's trace (the batch request's
 * span when the item names none), linked to the batch request; `end` closes them with each item's
 * refusal code. Undefined while tracing is off.
 */
function itemSpans(items: { name: string; txId: string; traceparent: string | undefined }[]) {
  if (!tracingOn()) return undefined;
  const batch = trace.getActiveSpan()?.spanContext();
  const spans = items.map((item) =>
    startSpan(item.name, { attributes: { 'twopc.tx_id': item.txId, 'twopc.batch_size': items.length }, links: batch ? [{ context: batch }] : [] }, item.traceparent ? contextFrom(item.traceparent) : undefined),
  );
  return {
    end(refusals: (string | undefined)[]) {
      spans.forEach((span, at) => {
        const refusal = refusals[at];
        if (refusal) failSpan(span, { code: refusal });
        span.end();
      });
    },
  };
}
