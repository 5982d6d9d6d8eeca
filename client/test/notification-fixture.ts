// A notification as the gateway hands it to clients, for the client's tests without a browser:
// every field set, `overrides` over them.
import type { Notification } from '@notify/lib/rpc';

export function aNotification(overrides: Partial<Notification> = {}): Notification {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    topicId: '00000000-0000-4000-8000-0000000000aa',
    publisherId: 'user-1',
    publisherName: '',
    publisherAvatarUrl: '/avatars/user-1?v=generated',
    title: 'Deploy finished',
    body: '',
    email: false,
    url: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    read: false,
    ackedAt: null,
    archived: false,
    ...overrides,
  };
}
