// The profile picture's pure parts (no browser): the square crop stays inside the image whatever the
// drag and zoom, avatar URLs get their size whether or not they carry a version, the person's own
// notifications take their new avatar, and the gateway's refusals of a picture read as sentences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { avatarSrc, isUploadedPicture } from '../src/app/api/avatar-url.ts';
import { friendlyError, HttpCallError, isSessionLost } from '../src/app/api/errors.ts';
import { fileSize } from '../src/app/format.ts';
import { cropSquare, dragged, initialView, MAX_ZOOM, zoomedTo } from '../src/app/picture/crop.ts';
import { withOwnAvatar } from '../src/app/state/merge.ts';
import { aNotification } from './notification-fixture.ts';

const landscape = { width: 1200, height: 800 };

test('the crop is the largest centred square at first, and stays inside the image while dragged and zoomed', () => {
  const start = initialView(landscape);
  assert.deepEqual(cropSquare(landscape, start), { x: 200, y: 0, side: 800 });
  // Dragging the picture right by half the preview moves the square left by half its side, and no further than the edge.
  const left = dragged(landscape, start, 140, 0, 280);
  assert.deepEqual(cropSquare(landscape, left), { x: 0, y: 0, side: 800 });
  // At zoom 2 the square is half as wide, around the same centre.
  const zoomed = zoomedTo(landscape, start, 2);
  assert.deepEqual(cropSquare(landscape, zoomed), { x: 400, y: 200, side: 400 });
  const corner = dragged(landscape, zoomed, -10_000, -10_000, 280);
  assert.deepEqual(cropSquare(landscape, corner), { x: 800, y: 400, side: 400 });
  // Zooming out from the corner pulls the square back inside.
  assert.deepEqual(cropSquare(landscape, zoomedTo(landscape, corner, 1)), { x: 400, y: 0, side: 800 });
  // Out-of-range zooms are held to the range.
  assert.equal(cropSquare(landscape, zoomedTo(landscape, start, 100)).side, 800 / MAX_ZOOM);
  assert.equal(cropSquare(landscape, zoomedTo(landscape, start, 0)).side, 800);
  assert.equal(cropSquare(landscape, zoomedTo(landscape, start, Number.NaN)).side, 800);
});

test('avatar URLs get the size asked for, after a version or alone; absolute addresses stay as they are', () => {
  const gateway = 'http://127.0.0.1:4000';
  assert.equal(avatarSrc(gateway, '/avatars/u1.png', 64), 'http://127.0.0.1:4000/avatars/u1.png?size=64');
  assert.equal(avatarSrc(gateway, '/avatars/u1?v=0123456789abcdef0123456789abcdef', 64), 'http://127.0.0.1:4000/avatars/u1?v=0123456789abcdef0123456789abcdef&size=64');
  assert.equal(avatarSrc(gateway, 'https://cdn.example/a.png', 64), 'https://cdn.example/a.png');
  assert.equal(isUploadedPicture('/avatars/u1?v=0123456789abcdef'), true);
  assert.equal(isUploadedPicture('/avatars/u1?v=generated'), false);
  assert.equal(isUploadedPicture('/avatars/u1.png'), false);
});

test('the person’s own notifications take their new avatar; others’ are left alone', () => {
  const base = aNotification({ publisherId: 'me', publisherName: 'Me', publisherAvatarUrl: '/avatars/me?v=generated', title: 'Mine' });
  const theirs = { ...base, id: '00000000-0000-4000-8000-000000000002', publisherId: 'them', publisherAvatarUrl: '/avatars/them?v=generated' };
  const list = [base, theirs];
  const updated = withOwnAvatar(list, { userId: 'me', avatarUrl: '/avatars/me?v=abcdef0123456789' });
  assert.equal(updated[0]!.publisherAvatarUrl, '/avatars/me?v=abcdef0123456789');
  assert.equal(updated[1], theirs, 'someone else’s notification is the same object');
  assert.equal(withOwnAvatar(updated, { userId: 'me', avatarUrl: '/avatars/me?v=abcdef0123456789' }), updated, 'nothing to change: the same list');
});

test('the gateway’s refusals of a picture read as sentences, by reason first, then by code', () => {
  const upload = (code: HttpCallError['code'], details: Record<string, unknown> = {}, status = 400) => new HttpCallError({ code, message: 'refused', details }, 'picture.upload', status);
  assert.match(friendlyError(upload('PAYLOAD_TOO_LARGE', {}, 413)), /larger than 5 MB/);
  assert.match(friendlyError(upload('INVALID_ARGUMENT', { reason: 'unsupported_image' })), /isn’t a picture we can read/);
  assert.equal(
    friendlyError(upload('INVALID_ARGUMENT', { reason: 'image_too_many_pixels', pixels: 64_000_000, limit: 40_000_000 })),
    'That picture has too many pixels (64 megapixels; at most 40 megapixels). Use a smaller image.',
  );
  assert.match(friendlyError(upload('INVALID_ARGUMENT', { reason: 'image_too_many_pixels' })), /^That picture has too many pixels\. /);
  assert.match(friendlyError(upload('RATE_LIMITED', { retryAfterSeconds: 3 }, 429)), /wait 3 seconds/);
  assert.match(friendlyError(upload('RATE_LIMITED', { reason: 'avatar_upload_rate', retryAfterSeconds: 1.2 }, 429)), /changed your picture many times .* wait 2 seconds/);
  assert.match(friendlyError(upload('UNAVAILABLE', { network: true }, 0)), /couldn’t be reached, so nothing changed/);
  assert.match(friendlyError(new HttpCallError({ code: 'INTERNAL', message: 'x' }, 'picture.remove', 500)), /on our side/);
  assert.equal(isSessionLost(upload('UNAUTHENTICATED', {}, 401)), true);
  assert.equal(isSessionLost(upload('PAYLOAD_TOO_LARGE', {}, 413)), false);
  assert.equal(fileSize(6 * 1024 * 1024), '6 MB');
  assert.equal(fileSize(5 * 1024 * 1024), '5 MB');
  assert.equal(fileSize(1_500_000), '1.4 MB');
  assert.equal(fileSize(2_000), '2 KB');
});
