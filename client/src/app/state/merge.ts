// Pure list helpers for the feed: merge notifications by id (newest version wins), newest first.
import type { Notification } from '@notify/lib/rpc';

/** Newest first; ties by id, as persist orders them. */
export function byNewest(a: Notification, b: Notification): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** `current` with `incoming` merged in: no duplicates, an incoming copy replaces the old one, except
 * that a notification acknowledged here stays read even if a list fetched before the ack says otherwise. */
export function mergeNotifications<N extends Notification>(current: readonly N[], incoming: readonly N[], ackedHere: ReadonlySet<string>): N[] {
  const byId = new Map(current.map((notification) => [notification.id, notification]));
  for (const notification of incoming) {
    const known = byId.get(notification.id);
    const read = notification.read || ackedHere.has(notification.id);
    byId.set(notification.id, { ...notification, read, ackedAt: notification.ackedAt ?? known?.ackedAt ?? null });
  }
  return [...byId.values()].sort(byNewest);
}
