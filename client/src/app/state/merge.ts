// Pure list helpers for the feed: merge notifications by id (newest version wins), newest first; and
// the person's own notifications showing their current avatar.
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

/** The person's own avatar, as the session knows it. */
export interface OwnAvatar {
  userId: string;
  avatarUrl: string;
}

/**
 * `notifications` with those `own.userId` published showing `own.avatarUrl` (a picture changed here shows
 * in the feed at once); the same array when none needed it.
 */
export function withOwnAvatar<N extends Notification>(notifications: readonly N[], own: OwnAvatar): readonly N[] {
  if (!notifications.some((notification) => notification.publisherId === own.userId && notification.publisherAvatarUrl !== own.avatarUrl)) return notifications;
  return notifications.map((notification) => (notification.publisherId === own.userId ? { ...notification, publisherAvatarUrl: own.avatarUrl } : notification));
}
