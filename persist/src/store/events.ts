// Notification events table access: a notification's lifecycle (prepared, committed, delivered,
// emailed, acked) as the trace reads it, and the inserts that record each step.
import { isUniqueViolation } from '@notify/lib/db';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Database, Tx } from './database.ts';

/** A delivered or emailed event reported by the gateway or the mailer. */
export interface ReportedEvent {
  type: string;
  recipientId: string;
  detail?: Record<string, string | number | boolean>;
}

export interface EventRow {
  type: string;
  at: Date;
  recipientId: string | null;
  detail: Prisma.JsonValue;
}

/**
 * A notification's events in the order they were recorded: all of them, or (with `recipientId`)
 * only the notification's own (no recipient) and that recipient's.
 */
export function eventsOf(db: Database, notificationId: string, recipientId?: string): Promise<EventRow[]> {
  return db.notificationEvent.findMany({
    where: { notificationId, ...(recipientId === undefined ? {} : { OR: [{ recipientId: null }, { recipientId }] }) },
    orderBy: { id: 'asc' },
  });
}

/** Records one reported event; `duplicate` when it was already there (`emailed` is recorded once per recipient). */
export async function recordEvent(db: Database, notificationId: string, event: ReportedEvent): Promise<'recorded' | 'duplicate'> {
  try {
    await db.notificationEvent.create({ data: eventRow(notificationId, event) });
    return 'recorded';
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return 'duplicate';
  }
}

/** Records reported events of one notification in one insert, skipping duplicates; returns how many were recorded. */
export async function recordEvents(db: Database, notificationId: string, events: ReportedEvent[]): Promise<number> {
  const { count } = await db.notificationEvent.createMany({ data: events.map((event) => eventRow(notificationId, event)), skipDuplicates: true });
  return count;
}

/**
 * Records reported events of any number of notifications in one statement; an event without a
 * delivery of a committed notification is skipped, and so is a duplicate. Returns how many were recorded.
 */
export function recordEventsOfMany(db: Database, events: (ReportedEvent & { notificationId: string })[]): Promise<number> {
  return db.$executeRawUnsafe(
    `INSERT INTO notification_events (notification_id, type, recipient_id, detail)
     SELECT e.notification_id, e.type, e.recipient_id, e.detail
     FROM jsonb_to_recordset($1::jsonb) AS e(notification_id uuid, type text, recipient_id text, detail jsonb)
     JOIN deliveries d ON d.notification_id = e.notification_id AND d.recipient_id = e.recipient_id
     JOIN notifications n ON n.id = e.notification_id AND n.state = 'committed'
     ON CONFLICT DO NOTHING`,
    JSON.stringify(events.map((event) => ({ notification_id: event.notificationId, type: event.type, recipient_id: event.recipientId, detail: event.detail ?? null }))),
  );
}

/** A `prepared` event per notification, its detail the transaction and the number of recipients. */
export async function insertPreparedEvents(tx: Tx, prepared: { notificationId: string; txId: string; recipients: number }[]): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO notification_events (notification_id, type, detail)
     SELECT id, 'prepared', jsonb_build_object('txId', tx_id, 'recipients', recipients) FROM unnest($1::uuid[], $2::text[], $3::int[]) AS item(id, tx_id, recipients)`,
    prepared.map((item) => item.notificationId),
    prepared.map((item) => item.txId),
    prepared.map((item) => item.recipients),
  );
}

/** A `committed` event per notification. */
export async function insertCommittedEvents(tx: Tx, notificationIds: string[]): Promise<void> {
  await tx.$executeRawUnsafe(`INSERT INTO notification_events (notification_id, type) SELECT unnest($1::uuid[]), 'committed'`, notificationIds);
}

/** An `acked` event per (notification, recipient). */
export async function insertAckedEvents(tx: Tx, acks: { notificationId: string; userId: string }[]): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO notification_events (notification_id, type, recipient_id) SELECT notification_id, 'acked', recipient_id FROM unnest($1::uuid[], $2::text[]) AS item(notification_id, recipient_id)`,
    acks.map((ack) => ack.notificationId),
    acks.map((ack) => ack.userId),
  );
}

/** One notification_events row for a reported event. */
function eventRow(notificationId: string, event: ReportedEvent) {
  return { notificationId, type: event.type, recipientId: event.recipientId, ...(event.detail ? { detail: event.detail } : {}) };
}
