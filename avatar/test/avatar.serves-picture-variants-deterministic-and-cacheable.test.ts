// GET /avatars/:userId variants of an uploaded picture: the same bytes for the same URL (across a
// cache clear), the format asked for, cover and contain, grayscale and blur; a strong ETag known
// before rendering (304), immutable with the current `v`, no-cache without; rendered once; and
// pre-rendered in the background after an upload.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import sharp from 'sharp';
import { build, formatOf, get, jsonOf, metric, testImage, upload, waitFor } from './helper.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';

test('variants: deterministic, in the format asked, cover ≠ contain, grayscale equal channels, blur differs', async (t) => {
  const running = await build(t, { PRERENDER_VARIANTS: 'none' });
  const { url } = running;
  const user = randomUUID();
  const { version } = jsonOf<{ version: string }>(await upload(url, user, await testImage(600, 300, 'jpeg')));
  const at = (query: string) => get(`${url}/avatars/${user}?${query}`);

  for (const format of ['png', 'webp', 'avif']) {
    const first = await at(`size=96&format=${format}&v=${version}`);
    assert.equal(first.status, 200, format);
    assert.equal(formatOf(first.body), format);
    assert.equal(first.headers.get('content-type'), `image/${format}`);
    const meta = await sharp(first.body).metadata();
    assert.deepEqual([meta.width, meta.height], [96, 96], format);
    // A hit, then a fresh render after the cache is cleared: the same bytes.
    assert.deepEqual((await at(`size=96&format=${format}&v=${version}`)).body, first.body, `${format}: cached`);
    running.app.cache.clear();
    const again = await at(`size=96&format=${format}&v=${version}`);
    assert.deepEqual(again.body, first.body, `${format}: rendered again, the same bytes`);
    assert.equal(again.headers.get('etag'), first.headers.get('etag'));
  }
  // The default: 128 px PNG, cover.
  const plain = await at('');
  assert.equal(formatOf(plain.body), 'png');
  assert.deepEqual((await at('size=128&format=png&fit=cover&grayscale=false')).body, plain.body);

  const cover = await at('size=64&fit=cover');
  const contain = await at('size=64&fit=contain');
  assert.notDeepEqual(cover.body, contain.body);
  assert.notEqual(cover.headers.get('etag'), contain.headers.get('etag'));
  // Contain letterboxes the 2:1 picture: transparent above; cover fills the square.
  const alphaTop = async (bytes: Buffer) => (await sharp(bytes).ensureAlpha().raw().toBuffer())[(2 * 64 + 32) * 4 + 3];
  assert.equal(await alphaTop(contain.body), 0);
  assert.equal(await alphaTop(cover.body), 255);

  const gray = await sharp((await at('size=64&grayscale=true')).body).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(gray.info.channels, 3);
  for (let i = 0; i < gray.data.length; i += 3) {
    assert.ok(gray.data[i] === gray.data[i + 1] && gray.data[i] === gray.data[i + 2], `pixel ${i / 3} is gray`);
  }
  const colour = await sharp(cover.body).removeAlpha().raw().toBuffer();
  assert.ok(colour.some((value, i) => i % 3 === 0 && value !== colour[i + 1]), 'the colour variant is not gray');

  const blurred = await at('size=64&blur=4');
  assert.equal(blurred.status, 200);
  assert.notDeepEqual(blurred.body, cover.body);
  assert.notDeepEqual((await at('size=64&blur=0.5')).body, blurred.body);
  assert.deepEqual((await at('size=64&blur=4')).body, blurred.body);
});

test('ETag and 304; v current → immutable, no v or a stale v → the current avatar, no-cache', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const generated = await get(`${url}/avatars/${user}?size=64&format=webp`);
  assert.equal(generated.status, 200);
  assert.equal(generated.headers.get('cache-control'), 'no-cache');
  assert.equal((await get(`${url}/avatars/${user}?size=64&format=webp&v=generated`)).headers.get('cache-control'), IMMUTABLE);

  const first = jsonOf<{ version: string }>(await upload(url, user, await testImage(200, 200, 'jpeg'))).version;
  const current = await get(`${url}/avatars/${user}?size=64&v=${first}`);
  assert.equal(current.headers.get('cache-control'), IMMUTABLE);
  const etag = current.headers.get('etag')!;
  assert.match(etag, /^"[A-Za-z0-9_-]{22}"$/);
  const unversioned = await get(`${url}/avatars/${user}?size=64`);
  assert.equal(unversioned.headers.get('cache-control'), 'no-cache');
  assert.equal(unversioned.headers.get('etag'), etag);
  assert.deepEqual(unversioned.body, current.body);

  const notModified = await get(`${url}/avatars/${user}?size=64`, { 'if-none-match': etag });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body.length, 0);
  assert.equal((await get(`${url}/avatars/${user}?size=64`, { 'if-none-match': `"other", W/${etag}` })).status, 304);
  assert.equal((await get(`${url}/avatars/${user}?size=64`, { 'if-none-match': '"other"' })).status, 200);

  // A new picture: the old v is stale, served the current avatar, to be revalidated; the old ETag no longer matches.
  const second = jsonOf<{ version: string }>(await upload(url, user, await testImage(200, 200, 'png', { alpha: true }))).version;
  assert.notEqual(second, first);
  const stale = await get(`${url}/avatars/${user}?size=64&v=${first}`, { 'if-none-match': etag });
  assert.equal(stale.status, 200);
  assert.equal(stale.headers.get('cache-control'), 'no-cache');
  assert.equal(stale.headers.get('x-avatar-version'), second);
  assert.deepEqual(stale.body, (await get(`${url}/avatars/${user}?size=64&v=${second}`)).body);
});

test('concurrent requests for one cold variant render it once', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  await upload(url, user, await testImage(800, 800, 'jpeg'));
  const before = await metric(url, 'avatar_renders_total', { style: 'picture' });
  const answers = await Promise.all(Array.from({ length: 20 }, () => get(`${url}/avatars/${user}?size=300&format=webp`)));
  for (const answer of answers) assert.deepEqual(answer.body, answers[0]!.body);
  assert.equal((await metric(url, 'avatar_renders_total', { style: 'picture' })) - before, 1);
});

test('after an upload the configured variants are rendered in the background, and then served from the cache', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: '32:webp,64:webp,128:png' });
  const user = randomUUID();
  const before = await metric(url, 'avatar_renders_total', { style: 'picture', outcome: 'ok' });
  const { version } = jsonOf<{ version: string }>(await upload(url, user, await testImage(500, 500, 'jpeg')));
  // No request asks; the renders happen anyway.
  await waitFor('three pre-rendered variants', async () => (await metric(url, 'avatar_renders_total', { style: 'picture', outcome: 'ok' })) - before >= 3);
  const hits = await metric(url, 'avatar_cache_requests_total', { result: 'hit' });
  const rendered = await metric(url, 'avatar_renders_total', { style: 'picture' });
  for (const query of ['size=32&format=webp', 'size=64&format=webp', 'size=128&format=png']) {
    assert.equal((await get(`${url}/avatars/${user}?${query}&v=${version}`)).status, 200);
  }
  assert.equal(await metric(url, 'avatar_renders_total', { style: 'picture' }), rendered, 'nothing rendered on request');
  assert.equal((await metric(url, 'avatar_cache_requests_total', { result: 'hit' })) - hits, 3);
});
