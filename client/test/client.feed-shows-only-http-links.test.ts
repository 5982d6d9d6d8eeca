// The feed's reading of notifications and topics (no browser): an action link is shown only when it
// is http(s), a followed topic's settings only when both are given, and merging keeps what was read here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Notification } from '@notify/lib/rpc';
import { aNotification } from './notification-fixture.ts';
import { mergeNotifications } from '../src/app/state/merge.ts';
import { safeLink, settingsOf } from '../src/app/state/shapes.ts';

const plain = aNotification({ publisherAvatarUrl: '/avatars/user-1.png' });

test('only http and https action links are shown, as the browser normalises them', () => {
  assert.equal(safeLink('https://example.com/a?b=1'), 'https://example.com/a?b=1');
  assert.equal(safeLink('http://example.com'), 'http://example.com/');
  assert.equal(safeLink('HTTPS://EXAMPLE.com/x'), 'https://example.com/x');
  for (const refused of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'ftp://example.com', '//example.com', '/relative', 'not a url', '', null]) {
    assert.equal(safeLink(refused), null, `refused: ${String(refused)}`);
  }
});

test('mute and email settings are read only when both are given', () => {
  assert.equal(settingsOf({ id: plain.topicId }), null);
  assert.equal(settingsOf({ muted: true }), null);
  assert.deepEqual(settingsOf({ muted: true, email: false }), { muted: true, email: false });
});

test('merging keeps the newer answer and a read acknowledged here', () => {
  const older: Notification = { ...plain, id: '00000000-0000-4000-8000-000000000000', createdAt: '2025-12-31T00:00:00.000Z' };
  const newer: Notification = { ...plain, publisherName: 'Ada' };
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
