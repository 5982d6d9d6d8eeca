// The feed's reading of notifications and topics (no browser): an action link is shown only when it
// is http(s), and a field a gateway does not send yet gets a neutral value instead of breaking the screen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Notification, Topic } from '@notify/lib/rpc';
import { mergeNotifications } from '../src/app/state/merge.ts';
import { asFeedNotification, asListedTopic, safeLink, settingsOf } from '../src/app/state/shapes.ts';

const plain: Notification = {
  id: '00000000-0000-4000-8000-000000000001',
  topicId: '00000000-0000-4000-8000-0000000000aa',
  publisherId: 'user-1',
  title: 'Deploy finished',
  body: '',
  email: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  read: false,
  ackedAt: null,
};

test('only http and https action links are shown, as the browser normalises them', () => {
  assert.equal(safeLink('https://example.com/a?b=1'), 'https://example.com/a?b=1');
  assert.equal(safeLink('http://example.com'), 'http://example.com/');
  assert.equal(safeLink('HTTPS://EXAMPLE.com/x'), 'https://example.com/x');
  for (const refused of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'ftp://example.com', '//example.com', '/relative', 'not a url', '', null]) {
    assert.equal(safeLink(refused), null, `refused: ${String(refused)}`);
  }
});

test('a notification without publisher, link or archived flag reads as anonymous, linkless and in the inbox', () => {
  assert.deepEqual(asFeedNotification(plain), { ...plain, publisherName: '', publisherAvatarUrl: '', url: null, archived: false });
  const rich = { ...plain, publisherName: 'Ada', publisherAvatarUrl: '/avatars/user-1.png', url: 'https://example.com', archived: true } as Notification;
  assert.deepEqual(asFeedNotification(rich), rich);
});

test('a topic without follower count or creator name reads as unknown; mute and email only when both are sent', () => {
  const topic: Topic = { id: plain.topicId, name: 'deploys', description: '', creatorId: 'user-1', createdAt: plain.createdAt };
  const listed = asListedTopic(topic);
  assert.equal(listed.subscriberCount, undefined);
  assert.equal(listed.creatorName, undefined);
  const counted = asListedTopic({ ...topic, subscriberCount: 0, creatorName: 'Ada' } as Topic);
  assert.equal(counted.subscriberCount, 0);
  assert.equal(counted.creatorName, 'Ada');
  assert.equal(settingsOf(topic), null);
  assert.equal(settingsOf({ muted: true }), null);
  assert.deepEqual(settingsOf({ muted: true, email: false }), { muted: true, email: false });
});

test('merging keeps the richer shape and a read acknowledged here', () => {
  const older = asFeedNotification({ ...plain, id: '00000000-0000-4000-8000-000000000000', createdAt: '2025-12-31T00:00:00.000Z' });
  const newer = asFeedNotification({ ...plain, publisherName: 'Ada' } as Notification);
  const merged = mergeNotifications([older], [newer], new Set([older.id]));
  assert.deepEqual(
    merged.map((notification) => [notification.id, notification.publisherName, notification.read]),
    [
      [newer.id, 'Ada', false],
      [older.id, '', false],
    ],
  );
  const again = mergeNotifications(merged, [{ ...older }], new Set([older.id]));
  assert.equal(again[1]!.read, true, 'a list fetched before the ack does not make it unread again');
});
