// Notification reads (a user's feed, one notification's trace), lifecycle events reported by the
// gateway and the mailer (one at a time or in batches), and the older request_id 2PC routes for creating a notification.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createError, sendNoVote, txId, type Participant, type ZodTypeProvider } from '@notify/lib';
import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '@notify/lib/db';
import { afterTimeCursor, encodeTimeCursor, page } from '../domain/cursor.ts';
import {
  createNotificationPayload,
  eventBatchBody,
  eventsOfManyBody,
  eventBody,
  listNotificationsQuery,
  notificationParams,
  userParams,
  type EventBody,
} from '../domain/schemas.ts';
import type { Database, Tx } from '../store/database.ts';
import { actingUser } from './identity.ts';

const seedPrepareBody = createNotificationPayload.extend({
  is_2pc_locked: z.literal(true, { message: 'only locked (two-phase) creation is supported: is_2pc_locked must be true' }),
  txId: txId.optional(),
  timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
});
const seedDecisionBody = z.strictObject({ request_id: z.uuid({ message: 'must be a request_id returned by prepare' }) });

export async function notificationRoutes(app: FastifyInstance, { db, participant }: { db: Database; participant: Participant<Tx> }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  /** A user's committed notifications, newest first; unreadOnly leaves out acknowledged ones. */
  typed.get('/api/users/:userId/notifications', { schema: { params: userParams, querystring: listNotificationsQuery } }, async (request) => {
    const user = actingUser(request);
    if (user !== request.params.userId) throw createError({ code: 'FORBIDDEN', message: 'a user reads only their own notifications' });
    const { unreadOnly, topicId, limit, cursor } = request.query;
    const rows = await db.delivery.findMany({
      where: {
        recipientId: user,
        ...(unreadOnly ? { ackState: { not: 'acked' } } : {}),
        notification: {
          state: 'committed',
          ...(topicId ? { topicId } : {}),
          ...afterTimeCursor(cursor),
        },
      },
      include: { notification: true },
      orderBy: [{ notification: { createdAt: 'desc' } }, { notification: { id: 'desc' } }],
      take: limit + 1,
    });
    const { items, nextCursor } = page(rows, limit, (row) => encodeTimeCursor(row.notification));
    return {
      notifications: items.map(({ notification, ackState, ackedAt }) => ({
        id: notification.id,
        topicId: notification.topicId,
        publisherId: notification.publisherId,
        title: notification.title,
        body: notification.body,
        email: notification.email,
        createdAt: notification.createdAt.toISOString(),
        read: ackState === 'acked',
        ackedAt: ackedAt?.toISOString() ?? null,
      })),
      nextCursor,
    };
  });

  /**
   * The lifecycle of one notification. Its publisher sees every event; a recipient sees the
   * notification's own life (prepared, committed) and only its own delivery events, never another
   * recipient's id, connections or acknowledgement.
   */
  typed.get('/api/notifications/:id/trace', { schema: { params: notificationParams } }, async (request) => {
    const user = actingUser(request);
    const notification = await db.notification.findUnique({ where: { id: request.params.id } });
    if (!notification || notification.state !== 'committed') throw createError({ code: 'NOT_FOUND', message: 'no such notification', details: { notificationId: request.params.id } });
    const recipient = await db.delivery.findUnique({ where: { notificationId_recipientId: { notificationId: notification.id, recipientId: user } } });
    if (notification.publisherId !== user && !recipient) throw createError({ code: 'FORBIDDEN', message: 'only its publisher and recipients may trace a notification' });
    const events = await db.notificationEvent.findMany({
      where: { notificationId: notification.id, ...(notification.publisherId === user ? {} : { OR: [{ recipientId: null }, { recipientId: user }] }) },
      orderBy: { id: 'asc' },
    });
    return {
      notificationId: notification.id,
      events: events.map((event) => ({ type: event.type, at: event.at.toISOString(), recipientId: event.recipientId, detail: event.detail })),
    };
  });

  /** Delivered (by the gateway, per connection) and emailed (by the mailer) events, for the trace. */
  typed.post('/api/notifications/:id/events', { schema: { params: notificationParams, body: eventBody }, config: { callers: ['gateway', 'mailer'] } }, async (request, reply) => {
    const delivery = await db.delivery.findUnique({
      where: { notificationId_recipientId: { notificationId: request.params.id, recipientId: request.body.recipientId } },
      include: { notification: { select: { state: true } } },
    });
    if (!delivery || delivery.notification.state !== 'committed') {
      throw createError({ code: 'NOT_FOUND', message: 'no committed notification for this recipient', details: { notificationId: request.params.id } });
    }
    try {
      await db.notificationEvent.create({ data: eventRow(request.params.id, request.body) });
    } catch (error) {
      // `emailed` is recorded once per recipient: a repeat (the mailer retrying) is already there.
      if (!isUniqueViolation(error)) throw error;
      return { ok: true, duplicate: true };
    }
    reply.code(201);
    return { ok: true };
  });

  /**
   * Many delivered/emailed events of one notification in one insert, all or nothing: one unknown
   * recipient (or a notification not committed) records none. No transaction is needed between the
   * check and the insert: a committed notification and its deliveries are never deleted.
   */
  typed.post('/api/notifications/:id/events/batch', { schema: { params: notificationParams, body: eventBatchBody } }, async (request, reply) => {
    const { events } = request.body;
    const unknown = await unknownRecipients(db, request.params.id, events.map((event) => event.recipientId));
    if (unknown.length) {
      throw createError({
        code: 'NOT_FOUND',
        message: 'no committed notification for some recipients; nothing was recorded',
        details: { notificationId: request.params.id, recipients: unknown.slice(0, 20), unknownCount: unknown.length },
      });
    }
    const { count } = await db.notificationEvent.createMany({ data: events.map((event) => eventRow(request.params.id, event)), skipDuplicates: true });
    reply.code(201);
    return { recorded: count };
  });

  /**
   * Delivered and emailed events of any number of notifications (the gateway gathers those of
   * every push in a turn), in one statement. Events without a delivery of a committed notification
   * are skipped and counted, never recorded; a repeated `emailed` is skipped too.
   */
  typed.post('/api/events/batch', { schema: { body: eventsOfManyBody } }, async (request, reply) => {
    const { events } = request.body;
    const recorded = await db.$executeRawUnsafe(
      `INSERT INTO notification_events (notification_id, type, recipient_id, detail)
       SELECT e.notification_id, e.type, e.recipient_id, e.detail
       FROM jsonb_to_recordset($1::jsonb) AS e(notification_id uuid, type text, recipient_id text, detail jsonb)
       JOIN deliveries d ON d.notification_id = e.notification_id AND d.recipient_id = e.recipient_id
       JOIN notifications n ON n.id = e.notification_id AND n.state = 'committed'
       ON CONFLICT DO NOTHING`,
      JSON.stringify(events.map((event) => ({ notification_id: event.notificationId, type: event.type, recipient_id: event.recipientId, detail: event.detail ?? null }))),
    );
    reply.code(201);
    return { recorded, skipped: events.length - recorded };
  });

  // The seed's routes, kept for its callers: prepare returns a request_id; commit and rollback take it.
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

/** One notification_events row for a delivered/emailed event. */
function eventRow(notificationId: string, event: EventBody) {
  return { notificationId, type: event.type, recipientId: event.recipientId, ...(event.detail ? { detail: event.detail } : {}) };
}

/** The given recipients (each once, in order) without a delivery of the notification, or all of them unless it is committed. */
async function unknownRecipients(db: Database, notificationId: string, recipientIds: string[]): Promise<string[]> {
  const wanted = [...new Set(recipientIds)];
  const found = await db.$queryRawUnsafe<{ recipient_id: string }[]>(
    `SELECT d.recipient_id FROM deliveries d JOIN notifications n ON n.id = d.notification_id
     WHERE d.notification_id = $1::uuid AND n.state = 'committed' AND d.recipient_id = ANY($2::text[])`,
    notificationId,
    wanted,
  );
  const known = new Set(found.map((row) => row.recipient_id));
  return wanted.filter((id) => !known.has(id));
}
