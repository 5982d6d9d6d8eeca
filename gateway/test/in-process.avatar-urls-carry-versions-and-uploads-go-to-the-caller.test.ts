// Avatar URLs and picture uploads in one process, over the fake avatar service made from its
// contract: users.me and each notification carry `<AVATAR_BASE_PATH>/<userId>?v=<version>`, the
// versions of a feed page read in one call and kept; an upload or removal reaches the URLs over the
// bus at once; with the avatar service down the URL goes out without a version and nothing fails.
// The upload routes (fastify inject, the kit's error handling) verify the caller before the body,
// send the bytes only for that caller, refuse a body past 5 MiB with 413 and keep a rate per user.
// The variant cache forgets a user's variants when their avatar changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fastify from 'fastify';
import { createError, installErrorHandling } from '@notify/lib';
import { PICTURE_MAX_BYTES } from '@notify/lib/contracts';
import { VariantCache, type CachedVariant } from '../src/avatar-proxy.ts';
import { avatarUploadRoutes, OWN_AVATAR_PATH } from '../src/avatar-uploads.ts';
import { KeyRateLimiter } from '../src/rest/rate-limit.ts';
import { handleFrame } from '../src/transports/json-rpc-frames.ts';
import { sessionOf } from './fakes/connections.ts';
import { inProcessGateway, type InProcessGateway } from './fakes/gateway.ts';

const VERSION_A = 'a'.repeat(32);
const VERSION_B = 'b'.repeat(32);

async function call(gateway: InProcessGateway, userId: string, method: string, params: unknown = {}): Promise<unknown> {
  const reply = (await handleFrame(gateway.dispatcher, gateway.connect(userId), JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))) as { result?: unknown; error?: unknown };
  assert.ok('result' in reply, JSON.stringify(reply));
  return reply.result;
}

function feedOf(publishers: string[]) {
  return publishers.map((publisherId, at) => ({
    id: `00000000-0000-4000-8000-${String(at).padStart(12, '0')}`,
    topicId: '00000000-0000-4000-8000-000000000000',
    publisherId,
    publisherName: publisherId,
    title: 't',
    body: 'b',
    email: false,
    url: null,
    createdAt: new Date().toISOString(),
    read: false,
    ackedAt: null,
    archived: false,
  }));
}

test('users.me and a feed page carry versioned avatar URLs, read in one call per page and kept', async (t) => {
  const gateway = await inProcessGateway(t);
  const versions = { ada: VERSION_A };
  gateway.upstreams.avatar.answer('versions', ({ body }) => ({ versions: Object.fromEntries(body.userIds.map((userId) => [userId, versions[userId as 'ada'] ?? 'generated'])) }));
  gateway.upstreams.persist.answer('listNotifications', () => ({ notifications: feedOf(['ada', 'bob', 'ada', 'cy', 'bob']), nextCursor: null }));

  const me = (await call(gateway, 'ada', 'users.me')) as { avatarUrl: string };
  assert.equal(me.avatarUrl, `/avatars/ada?v=${VERSION_A}`);
  const page = (await call(gateway, 'reader', 'notifications.list', {})) as { notifications: { publisherId: string; publisherAvatarUrl: string }[] };
  assert.deepEqual(
    page.notifications.map((n) => n.publisherAvatarUrl),
    [`/avatars/ada?v=${VERSION_A}`, '/avatars/bob?v=generated', `/avatars/ada?v=${VERSION_A}`, '/avatars/cy?v=generated', '/avatars/bob?v=generated'],
  );
  const calls = gateway.upstreams.avatar.calls('versions');
  assert.deepEqual(
    calls.map((c) => c.body.userIds),
    [['ada'], ['bob', 'cy']],
    'one call for the page, naming only the publishers not known yet, each once',
  );
  await call(gateway, 'reader', 'notifications.list', {});
  assert.equal(gateway.upstreams.avatar.calls('versions').length, 2, 'the next page is answered from what is kept');

  // An upload on any gateway arrives as a bus message: the URLs change at once, without asking again.
  await gateway.publish({ kind: 'avatar-changed', userId: 'bob', version: VERSION_B });
  const again = (await call(gateway, 'reader', 'notifications.list', {})) as { notifications: { publisherAvatarUrl: string }[] };
  assert.equal(again.notifications[1]!.publisherAvatarUrl, `/avatars/bob?v=${VERSION_B}`);
  assert.equal(gateway.upstreams.avatar.calls('versions').length, 2);
});

test('with the avatar service down, avatar URLs go out without a version and the calls still answer', async (t) => {
  const gateway = await inProcessGateway(t);
  gateway.upstreams.avatar.answer('versions', () => {
    throw createError({ code: 'UNAVAILABLE', message: 'no passing instance' });
  });
  gateway.upstreams.persist.answer('listNotifications', () => ({ notifications: feedOf(['ada']), nextCursor: null }));
  assert.equal(((await call(gateway, 'ada', 'users.me')) as { avatarUrl: string }).avatarUrl, '/avatars/ada');
  const page = (await call(gateway, 'reader', 'notifications.list', {})) as { notifications: { publisherAvatarUrl: string }[] };
  assert.equal(page.notifications[0]!.publisherAvatarUrl, '/avatars/ada');
});

test('uploads: the caller is verified first, the bytes go for that caller only, 413 past 5 MiB, a rate per user', async (t) => {
  const gateway = await inProcessGateway(t);
  const { avatar, auth } = gateway.upstreams;
  const ada = sessionOf('ada');
  auth.answer('currentSession', ({ headers }) => {
    if (headers.authorization !== `Bearer ${ada.token}`) throw createError({ code: 'UNAUTHENTICATED', message: 'unknown token' });
    return { user: { id: 'ada', email: 'ada@example.test', name: 'ada', createdAt: new Date().toISOString() }, expiresAt: new Date(Date.now() + 60_000).toISOString() } as never;
  });
  avatar.answer('putPicture', ({ params, body }) => ({ userId: params.userId, version: VERSION_A, width: 10, height: 10, format: 'jpeg', bytes: body.byteLength, updatedAt: new Date().toISOString() }));
  avatar.answer('deletePicture', () => ({ deleted: true, version: 'generated' }));

  const app = fastify();
  installErrorHandling(app);
  const limiter = new KeyRateLimiter({ ratePerSecond: 1 / 60, burst: 3, maxKeys: 100 });
  await app.register(async (scope) => avatarUploadRoutes(scope, { upstreams: gateway.upstreams.clients, sessions: gateway.sessions, avatars: gateway.avatars, publish: gateway.publish, limiter, basePath: '/avatars' }));
  t.after(() => app.close());
  const bearer = { authorization: `Bearer ${ada.token}` };

  const none = await app.inject({ method: 'PUT', url: OWN_AVATAR_PATH, payload: Buffer.from('x') });
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().error.code, 'UNAUTHENTICATED');
  assert.equal('retryable' in none.json().error, false, 'the clients’ error shape');
  const stranger = await app.inject({ method: 'PUT', url: OWN_AVATAR_PATH, headers: { authorization: 'Bearer not-a-session' }, payload: Buffer.from('x') });
  assert.equal(stranger.statusCode, 401);

  const big = await app.inject({ method: 'PUT', url: OWN_AVATAR_PATH, headers: { ...bearer, 'content-type': 'image/png' }, payload: Buffer.alloc(PICTURE_MAX_BYTES + 1) });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(avatar.calls('putPicture').length, 0, 'nothing sent on');

  const picture = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]);
  const put = await app.inject({ method: 'PUT', url: OWN_AVATAR_PATH, headers: { ...bearer, 'content-type': 'application/json' }, payload: picture });
  assert.equal(put.statusCode, 200, put.body);
  assert.deepEqual(put.json(), { avatarUrl: `/avatars/ada?v=${VERSION_A}`, version: VERSION_A, width: 10, height: 10 });
  const [sent] = avatar.calls('putPicture');
  assert.deepEqual([sent!.params.userId, sent!.user, Buffer.from(sent!.body).equals(picture)], ['ada', 'ada', true], 'the caller’s bytes, for the caller, named in the credential');
  assert.deepEqual(gateway.bus.at(-1), { kind: 'avatar-changed', userId: 'ada', version: VERSION_A }, 'every gateway hears it');
  assert.equal(((await call(gateway, 'ada', 'users.me')) as { avatarUrl: string }).avatarUrl, `/avatars/ada?v=${VERSION_A}`);

  const removed = await app.inject({ method: 'DELETE', url: OWN_AVATAR_PATH, headers: bearer });
  assert.deepEqual([removed.statusCode, removed.json()], [200, { avatarUrl: '/avatars/ada?v=generated', version: 'generated' }]);
  assert.equal(avatar.calls('deletePicture')[0]!.user, 'ada');

  const empty = await app.inject({ method: 'PUT', url: OWN_AVATAR_PATH, headers: bearer });
  assert.equal(empty.statusCode, 429, 'the burst of 3 is spent (the 413 counted too)');
  assert.equal(empty.json().error.details.reason, 'avatar_upload_rate');
  assert.ok(Number(empty.headers['retry-after']) >= 1);
});

test('the gateway’s variant cache forgets a user’s variants when the avatar changes, and keeps no answer asked for before the change', () => {
  const cache = new VariantCache({ maxBytes: 1_000_000, maxEntries: 3 });
  const variant = (byte: number): CachedVariant => ({ body: Buffer.alloc(100, byte), contentType: 'image/webp', etag: `"${byte}"`, cacheControl: 'public, max-age=31536000, immutable' });
  const ada = 'ada?odd';
  cache.offer(ada, `${ada}?size=64&v=${VERSION_A}`, variant(1), cache.mark(ada));
  cache.offer(ada, `${ada}?size=128&v=${VERSION_A}`, variant(2), cache.mark(ada));
  cache.offer('bob', `bob?size=64&v=${VERSION_A}`, variant(3), cache.mark('bob'));
  cache.offer('bob', `bob?size=32&v=${VERSION_A}`, { ...variant(4), cacheControl: 'no-cache' }, cache.mark('bob'));
  assert.equal(cache.size, 3, 'a no-cache answer is not kept');

  // An answer asked for before ada's avatar changed (it may name the replaced version) is not kept.
  const before = cache.mark(ada);
  cache.forget(ada);
  assert.equal(cache.get(`${ada}?size=64&v=${VERSION_A}`), undefined);
  assert.equal(cache.get(`${ada}?size=128&v=${VERSION_A}`), undefined);
  assert.equal(cache.get(`bob?size=64&v=${VERSION_A}`)?.body[0], 3, 'bob’s variants stay');
  cache.offer(ada, `${ada}?size=64&v=${VERSION_A}`, variant(5), before);
  assert.equal(cache.get(`${ada}?size=64&v=${VERSION_A}`), undefined, 'asked for before the change');
  cache.offer(ada, `${ada}?size=64&v=${VERSION_B}`, variant(6), cache.mark(ada));
  assert.equal(cache.get(`${ada}?size=64&v=${VERSION_B}`)?.body[0], 6, 'asked for after it');

  // Entries pushed out by the bound leave the per-user index too: forgetting bob later drops only what is there.
  cache.offer('cy', `cy?size=64&v=${VERSION_A}`, variant(7), cache.mark('cy'));
  cache.offer('cy', `cy?size=96&v=${VERSION_A}`, variant(8), cache.mark('cy'));
  assert.equal(cache.size, 3);
  cache.forget('bob');
  cache.forget('cy');
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, 100 + 256);
});

test('the variant cache’s marks of avatar changes are bounded, and no answer asked for before a change is kept even after its user’s mark was dropped', () => {
  const cache = new VariantCache({ maxBytes: 1_000_000, maxEntries: 100, changeMarksMax: 2 });
  const variant: CachedVariant = { body: Buffer.alloc(10, 1), contentType: 'image/webp', etag: '"1"', cacheControl: 'public, max-age=31536000, immutable' };
  cache.forget('ada');
  const asked = cache.mark('ada'); // an answer for ada is asked for after that change…
  cache.forget('bob');
  cache.forget('cy'); // …ada's own mark is dropped by the bound…
  cache.forget('ada'); // …and her avatar changes again before the answer comes back.
  cache.offer('ada', `ada?size=64&v=${VERSION_A}`, variant, asked);
  assert.equal(cache.get(`ada?size=64&v=${VERSION_A}`), undefined, 'asked for before the latest change');
  // Asked for after it, kept; a user whose mark was dropped is answered and kept too.
  cache.offer('ada', `ada?size=64&v=${VERSION_B}`, variant, cache.mark('ada'));
  assert.ok(cache.get(`ada?size=64&v=${VERSION_B}`));
  cache.forget('dan'); // bob and cy are dropped now
  cache.offer('bob', `bob?size=64&v=${VERSION_A}`, variant, cache.mark('bob'));
  assert.ok(cache.get(`bob?size=64&v=${VERSION_A}`));
});
