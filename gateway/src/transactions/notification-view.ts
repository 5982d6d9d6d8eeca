// A notification as clients see it, from a publication's persist payload: what a publish answers
// and what is pushed after its commit.
import type { CreateNotificationPayload } from '@notify/lib/contracts';
import type { Notification } from '@notify/lib/rpc';

type Published = Pick<CreateNotificationPayload, 'notificationId' | 'topicId' | 'publisherId' | 'title' | 'body'> & { publisherName?: string; email?: boolean; url?: string | null };

/** `publisherAvatarUrl`: the publisher's avatar URL now (AvatarVersions). */
export function notificationView(payload: Published, at: Date, publisherAvatarUrl: string): Notification {
  return {
    id: payload.notificationId,
    topicId: payload.topicId,
    publisherId: payload.publisherId,
    publisherName: payload.publisherName ?? '',
    title: payload.title,
    body: payload.body,
    email: payload.email ?? false,
    url: payload.url ?? null,
    createdAt: at.toISOString(),
    read: false,
    ackedAt: null,
    archived: false,
    publisherAvatarUrl,
  };
}
