// A picture's bytes, once read for a variant, are kept in memory for its next variants (counted by
// avatar_picture_reads_total); yet two instances on one database never serve a picture the other
// one removed or replaced, whatever either kept: every variant request reads the current version
// first. PICTURE_READ_CACHE_BYTES=0 keeps nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import sharp from 'sharp';
import { build, get, jsonOf, metric, send, testImage, upload } from './helper.ts';

const reads = async (url: string) => ({ memory: await metric(url, 'avatar_picture_reads_total', { from: 'memory' }), store: await metric(url, 'avatar_picture_reads_total', { from: 'store' }) });

/** The mean red of a variant's pixels. */
async function redOf(bytes: Buffer): Promise<number> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let i = 0; i < data.length; i += info.channels) sum += data[i]!;
  return sum / (data.length / info.channels);
}

const solid = (r: number, g: number, b: number) => sharp({ create: { width: 900, height: 600, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();

test('the bytes read for one variant serve the next ones from memory; 0 keeps nothing', async (t) => {
  for (const [cacheBytes, expected] of [
    [undefined, { store: 1, memory: 2 }],
    ['0', { store: 3, memory: 0 }],
  ] as const) {
    const { url } = await build(t, { PRERENDER_VARIANTS: 'none', ...(cacheBytes === undefined ? {} : { PICTURE_READ_CACHE_BYTES: cacheBytes }) });
    const user = randomUUID();
    const { version } = jsonOf<{ version: string }>(await upload(url, user, await testImage(900, 600, 'jpeg')));
    const before = await reads(url);
    // Three variants of the working copy (all up to 256 px).
    for (const query of ['size=64&format=webp', 'size=64&format=webp&grayscale=true', 'size=128&format=png&fit=contain']) {
      assert.equal((await get(`${url}/avatars/${user}?${query}&v=${version}`)).status, 200, query);
    }
    const after = await reads(url);
    assert.deepEqual({ store: after.store - before.store, memory: after.memory - before.memory }, expected, `PICTURE_READ_CACHE_BYTES=${cacheBytes ?? 'default'}`);
  }
});

test('an instance that kept a picture’s bytes serves neither a removed nor a replaced picture', async (t) => {
  const one = await build(t, { PRERENDER_VARIANTS: 'none' });
  const two = await build(t, { PRERENDER_VARIANTS: 'none', DATABASE_URL: one.databaseUrl });
  const user = randomUUID();
  const red = jsonOf<{ version: string }>(await upload(one.url, user, await solid(220, 20, 20))).version;

  // Instance two reads the red picture's bytes and keeps them.
  const first = await get(`${two.url}/avatars/${user}?size=64&format=webp&v=${red}`);
  assert.equal(first.headers.get('x-avatar-version'), red);
  assert.ok((await redOf(first.body)) > 180, 'the red picture');
  assert.ok((await reads(two.url)).store >= 1);

  // Removed through instance one: two answers the generated avatar, for new variants and old ones alike.
  assert.equal((await send(`${one.url}/pictures/${user}`, 'DELETE', { user })).status, 200);
  for (const query of ['size=64&format=webp', 'size=64&format=webp&grayscale=true', 'size=32&format=png']) {
    const answer = await get(`${two.url}/avatars/${user}?${query}&v=${red}`);
    assert.equal(answer.status, 200, query);
    assert.equal(answer.headers.get('x-avatar-version'), 'generated', `${query}: the removed picture is not served`);
    assert.equal(answer.headers.get('cache-control'), 'no-cache', query);
  }

  // Uploaded again, then replaced through instance one: two serves the blue one.
  const again = jsonOf<{ version: string }>(await upload(one.url, user, await solid(220, 20, 20))).version;
  assert.equal(again, red, 'the same bytes, the same version');
  assert.ok((await redOf((await get(`${two.url}/avatars/${user}?size=48&format=webp&v=${red}`)).body)) > 180);
  const blue = jsonOf<{ version: string }>(await upload(one.url, user, await solid(20, 20, 220))).version;
  const stale = await get(`${two.url}/avatars/${user}?size=96&format=webp&v=${red}`);
  assert.equal(stale.headers.get('x-avatar-version'), blue);
  assert.ok((await redOf(stale.body)) < 60, 'the replaced picture is not served under its old version');
});
