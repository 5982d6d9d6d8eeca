// A notification as clients see it, from a publication's persist payload: what a publish answers
// and what is pushed after its commit.
import type { CreateNotificationPayload } from '@notify/lib/contracts';
import type { Notification } from '@notify/lib/rpc';

export function notificationView(payload: Pick<CreateNotificationPayload, 'notificationId' | 'topicId' | 'publisherId' | 'title' | 'body'> & { email?: boolean }, at: Date): Notification {
  return {
    id: payload.notificationId,
    topicId: payload.topicId,
    publisherId: payload.publisherId,
    title: payload.title,
    body: payload.body,
    email: payload.email ?? false,
    createdAt: at.toISOString(),
    read: false,
    ackedAt: null,
  };
}
