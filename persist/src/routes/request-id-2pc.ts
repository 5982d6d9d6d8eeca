// The request_id two-phase-commit API persist has always been known by, for creating a
// notification: POST /api/notifications (with is_2pc_locked: true) prepares and answers a
// request_id; POST /api/notifications/commit_2pc and DELETE /api/notifications/rollback_2pc take it.
// It keeps working callers written against persist's first API (docs/services-api.md, "persist");
// no service of this repository calls it: the gateway's coordinator speaks the kit's txId protocol
// (/api/prepare_2pc and the rest, served by the kit's participant routes). Both reach the same
// participant and the same notification.create action.
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sendNoVote, txId, type Participant, type ZodTypeProvider } from '@notify/lib';
import { createNotificationPayload } from '../domain/schemas.ts';
import type { Tx } from '../store/database.ts';

const seedPrepareBody = createNotificationPayload.extend({
  is_2pc_locked: z.literal(true, { message: 'only locked (two-phase) creation is supported: is_2pc_locked must be true' }),
  txId: txId.optional(),
  timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
});
const seedDecisionBody = z.strictObject({ request_id: z.uuid({ message: 'must be a request_id returned by prepare' }) });

export async function requestId2pcRoutes(app: FastifyInstance, { participant }: { participant: Participant<Tx> }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.post('/api/notifications', { schema: { body: seedPrepareBody } }, async (request, reply) => {
    const { is_2pc_locked: _locked, txId: given, timeoutMs, ...payload } = request.body;
    try {
      const { requestId } = await participant.prepare({ txId: given ?? randomUUID(), action: 'notification.create', payload, timeoutMs });
      reply.code(201);
      return { vote: 'yes', request_id: requestId, notificationId: payload.notificationId };
    } catch (error) {
      return sendNoVote(reply, error);
    }
  });

  typed.post('/api/notifications/commit_2pc', { schema: { body: seedDecisionBody } }, async (request) => ({
    ack: true,
    transaction: await participant.commit(await participant.txIdOf(request.body.request_id)),
  }));

  typed.delete('/api/notifications/rollback_2pc', { schema: { body: seedDecisionBody } }, async (request) => {
    const txId = await participant.txIdOf(request.body.request_id).catch(() => undefined);
    // Presumed abort: a request_id never prepared here is acknowledged, as for /api/rollback_2pc.
    if (!txId) return { ack: true };
    return { ack: true, transaction: await participant.rollback(txId) };
  });
}
