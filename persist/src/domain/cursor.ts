// Opaque pagination cursors: the sort key of the last item returned, base64url-encoded JSON.
import { z } from 'zod';
import { createError, REASON } from '@notify/lib';

// Every value is checked as the query will use it: a forged but well-formed cursor (an id that is
// no uuid, a year PostgreSQL cannot hold) is the caller's mistake, not a database error.
const timeCursor = z.strictObject({
  t: z.iso.datetime().refine((t) => {
    const year = new Date(t).getUTCFullYear();
    return year >= 1970 && year <= 9999;
  }),
  id: z.uuid(),
});

/** A cursor after an item ordered by (createdAt desc, id desc). */
export function encodeTimeCursor(item: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify({ t: item.createdAt.toISOString(), id: item.id })).toString('base64url');
}

/** The sort key a cursor from encodeTimeCursor names; undefined (the first page) without one. */
export function decodeTimeCursor(cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = timeCursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { createdAt: new Date(parsed.t), id: parsed.id };
  } catch {
    throw createError({ code: 'INVALID_ARGUMENT', message: 'cursor is not one this service issued', details: { field: 'cursor', reason: REASON.BAD_CURSOR } });
  }
}

/** Takes `limit + 1` rows, returns `limit` of them and the cursor for the next page, if any. */
export function page<T>(rows: T[], limit: number, cursorOf: (item: T) => string): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? cursorOf(items[items.length - 1]!) : null };
}

const userCursor = z.strictObject({ u: z.string().min(1).max(128) });

/** A cursor after a subscriber in user id order. */
export function encodeUserCursor(userId: string): string {
  return Buffer.from(JSON.stringify({ u: userId })).toString('base64url');
}

/** The user id a cursor from encodeUserCursor names; undefined (the first page) without one. */
export function decodeUserCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  try {
    return userCursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))).u;
  } catch {
    throw createError({ code: 'INVALID_ARGUMENT', message: 'cursor is not one this service issued', details: { field: 'cursor', reason: REASON.BAD_CURSOR } });
  }
}
