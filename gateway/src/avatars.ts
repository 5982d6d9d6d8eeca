// Where a user's avatar is on this gateway (`<AVATAR_BASE_PATH>/<userId>.png`), for users.me and for
// the publisher of each notification a client is handed.
import type { Notification } from '@notify/lib/rpc';

export function avatarPath(basePath: string, userId: string): string {
  return `${basePath}/${encodeURIComponent(userId)}.png`;
}

/** persist's notification as clients get it: with its publisher's avatar path. */
export function withPublisherAvatar(basePath: string, notification: Omit<Notification, 'publisherAvatarUrl'>): Notification {
  return { ...notification, publisherAvatarUrl: avatarPath(basePath, notification.publisherId) };
}
