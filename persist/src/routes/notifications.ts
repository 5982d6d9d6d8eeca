// Notification reads (a user's feed, their unread count, one notification for its publisher, its
// trace), archiving, and lifecycle events reported by the gateway and the mailer (one at a time or
// in batches).
import type { FastifyInstance } from 'fastify';
import { serveRoute } from '@notify/lib';
import { persistContract, type traceEventShape } from '@notify/lib/contracts';
import type { z } from 'zod';
import { decodeTimeCursor, encodeTimeCursor, page } from '../domain/cursor.ts';
import { checkAllRecipientsKnown, checkCommittedDelivery, checkOwnFeed, checkPublisher, committedNotification, ownDelivery, ownPublication, traceScope } from '../domain/notifications.ts';
import { publishedContent } from '../domain/schemas.ts';
import type { Database } from '../store/database.ts';
import { countUnread, findDelivery, hasDelivery, recipientsOf, setArchived, unknownRecipients } from '../store/deliveries.ts';
import { eventsOf, recordEvent, recordEvents, recordEventsOfMany } from '../store/events.ts';
import { feedPage, findNotification, findNotificationWithCounts } from '../store/notifications.ts';
import { actingUser } from './identity.ts';

const routes = persistContract.routes;
type TraceEventType = z.infer<typeof traceEventShape>['type'];

export async function notificationRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  /** A user's committed notifications, newest first; unreadOnly leaves out acknowledged ones. */
  serveRoute(app, routes.listNotifications, {}, async (request) => {
    const user = actingUser(request);
    checkOwnFeed(user, request.params.userId);
    const { unreadOnly, topicId, archived, limit, cursor } = request.query;
    const rows = await feedPage(db, { recipientId: user, unreadOnly, topicId, archived, after: decodeTimeCursor(cursor), take: limit + 1 });
    const { items, nextCursor } = page(rows, limit, (row) => encodeTimeCursor(row.notification));
    return {
      notifications: items.map(({ notification, ackState, ackedAt, muted, archived }) => ({
        ...publishedContent(notification),
        read: ackState === 'acked',
        ackedAt: ackedAt?.toISOString() ?? null,
        muted,
        archived,
      })),
      nextCursor,
    };
  });

  /** A publication of the acting user, pending or committed, with its recipients (a publish repeated with its idempotency key). */
  serveRoute(app, routes.getPublication, {}, async (request) => {
    const user = actingUser(request);
    const notification = ownPublication(await findNotification(db, request.params.id), user, request.params.id);
    const { id, ...content } = publishedContent(notification);
    return {
      ...content,
      state: notification.state === 'committed' ? ('committed' as const) : ('pending' as const),
      fingerprint: notification.fingerprint,
      notificationId: id,
      recipients: await recipientsOf(db, notification.id),
    };
  });

  /** One committed notification as its publisher sees it: content, recipients and acknowledgements. */
  serveRoute(app, routes.getNotification, {}, async (request) => {
    const notification = committedNotification(await findNotificationWithCounts(db, request.params.id), request.params.id);
    checkPublisher(notification, actingUser(request));
    return { ...publishedContent(notification), recipients: notification.recipients, acknowledged: notification.acknowledged };
  });

  /** The user's unread deliveries now (of one topic, with `topicId`), and the cut-off a mark-all-read of them uses. */
  serveRoute(app, routes.countUnread, {}, async (request) => {
    const user = actingUser(request);
    checkOwnFeed(user, request.params.userId);
    const { unread, cutoff } = await countUnread(db, { userId: user, topicId: request.query.topicId });
    return { unread, cutoff: cutoff.toISOString() };
  });

  /** Archives a read notification of the user's, or unarchives one; an unread one is left as it is (`archived: false, read: false`). */
  serveRoute(app, routes.setArchived, {}, async (request) => {
    const user = actingUser(request);
    return ownDelivery(await setArchived(db, request.params.id, user, request.body.archived), request.params.id);
  });

  /**
   * The lifecycle of one notification. Its publisher sees every event; a recipient sees the
   * notification's own life (prepared, committed) and only its own delivery events, never another
   * recipient's id, connections or acknowledgement.
   */
  serveRoute(app, routes.traceNotification, {}, async (request) => {
    const user = actingUser(request);
    const notification = committedNotification(await findNotification(db, request.params.id), request.params.id);
    const scope = traceScope(notification, user, await hasDelivery(db, notification.id, user));
    const events = await eventsOf(db, notification.id, scope);
    return {
      notificationId: notification.id,
      traceId: notification.traceId,
      // Persist writes only the five types (its actions and the checked event routes).
      events: events.map((event) => ({ type: event.type as TraceEventType, at: event.at.toISOString(), recipientId: event.recipientId, detail: event.detail })),
    };
  });

  /** Delivered (by the gateway, per connection) and emailed (by the mailer) events, for the trace. */
  serveRoute(app, routes.recordEvent, { config: { callers: ['gateway', 'mailer'] } }, async (request, reply) => {
    checkCommittedDelivery(await findDelivery(db, request.params.id, request.body.recipientId), request.params.id);
    // `emailed` is recorded once per recipient: a repeat (the mailer retrying) is already there.
    if ((await recordEvent(db, request.params.id, request.body)) === 'duplicate') return { ok: true as const, duplicate: true };
    reply.code(201);
    return { ok: true as const };
  });

  /**
   * Many delivered/emailed events of one notification in one insert, all or nothing: one unknown
   * recipient (or a notification not committed) records none. No transaction is needed between the
   * check and the insert: a committed notification and its deliveries are never deleted.
   */
  serveRoute(app, routes.recordEventBatch, {}, async (request, reply) => {
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
  serveRoute(app, routes.recordEvents, {}, async (request, reply) => {
    const { events } = request.body;
    const recorded = await recordEventsOfMany(db, events);
    reply.code(201);
    return { recorded, skipped: events.length - recorded };
  });
}
