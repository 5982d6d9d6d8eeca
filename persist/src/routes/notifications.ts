// Notification reads (a user's feed, one notification's trace) and lifecycle events reported by
// the gateway and the mailer (one at a time or in batches).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import { decodeTimeCursor, encodeTimeCursor, page } from '../domain/cursor.ts';
import { checkAllRecipientsKnown, checkCommittedDelivery, checkOwnFeed, committedNotification, traceScope } from '../domain/notifications.ts';
import { eventBatchBody, eventBody, eventsOfManyBody, listNotificationsQuery, notificationParams, userParams } from '../domain/schemas.ts';
import type { Database } from '../store/database.ts';
import { findDelivery, hasDelivery, unknownRecipients } from '../store/deliveries.ts';
import { eventsOf, recordEvent, recordEvents, recordEventsOfMany } from '../store/events.ts';
import { feedPage, findNotification } from '../store/notifications.ts';
import { actingUser } from './identity.ts';

export async function notificationRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  /** A user's committed notifications, newest first; unreadOnly leaves out acknowledged ones. */
  typed.get('/api/users/:userId/notifications', { schema: { params: userParams, querystring: listNotificationsQuery } }, async (request) => {
    const user = actingUser(request);
    checkOwnFeed(user, request.params.userId);
    const { unreadOnly, topicId, limit, cursor } = request.query;
    const rows = await feedPage(db, { recipientId: user, unreadOnly, topicId, after: decodeTimeCursor(cursor), take: limit + 1 });
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
    const notification = committedNotification(await findNotification(db, request.params.id), request.params.id);
    const scope = traceScope(notification, user, await hasDelivery(db, notification.id, user));
    const events = await eventsOf(db, notification.id, scope);
    return {
      notificationId: notification.id,
      events: events.map((event) => ({ type: event.type, at: event.at.toISOString(), recipientId: event.recipientId, detail: event.detail })),
    };
  });

  /** Delivered (by the gateway, per connection) and emailed (by the mailer) events, for the trace. */
  typed.post('/api/notifications/:id/events', { schema: { params: notificationParams, body: eventBody }, config: { callers: ['gateway', 'mailer'] } }, async (request, reply) => {
    checkCommittedDelivery(await findDelivery(db, request.params.id, request.body.recipientId), request.params.id);
    // `emailed` is recorded once per recipient: a repeat (the mailer retrying) is already there.
    if ((await recordEvent(db, request.params.id, request.body)) === 'duplicate') return { ok: true, duplicate: true };
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
    checkAllRecipientsKnown(await unknownRecipients(db, request.params.id, events.map((event) => event.recipientId)), request.params.id);
    const recorded = await recordEvents(db, request.params.id, events);
    reply.code(201);
    return { recorded };
  });

  /**
   * Delivered and emailed events of any number of notifications (the gateway gathers those of
   * every push in a turn), in one statement. Events without a delivery of a committed notification
   * are skipped and counted, never recorded; a repeated `emailed` is skipped too.
   */
  typed.post('/api/events/batch', { schema: { body: eventsOfManyBody } }, async (request, reply) => {
    const { events } = request.body;
    const recorded = await recordEventsOfMany(db, events);
    reply.code(201);
    return { recorded, skipped: events.length - recorded };
  });
}
