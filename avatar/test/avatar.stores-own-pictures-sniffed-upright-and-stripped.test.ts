// PUT /pictures/:userId: any PNG, JPEG or WebP is taken, its type read from its bytes (not its
// name or content type), turned upright by its EXIF orientation, stripped of all metadata and
// stored; anything else is a 400 that stores nothing, a body over 5 MiB a 413, and only the user
// the gateway's credential names may change their picture. Versions and delete on the real database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import sharp from 'sharp';
import { build, errorOf, formatOf, get, jsonOf, send, testImage, upload } from './helper.ts';

interface Picture {
  userId: string;
  version: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
}

async function versionsOf(url: string, userIds: string[]): Promise<Record<string, string>> {
  const answer = await send(`${url}/pictures/versions`, 'POST', { body: JSON.stringify({ userIds }) });
  assert.equal(answer.status, 200, answer.body.toString());
  return jsonOf<{ versions: Record<string, string> }>(answer).versions;
}

test('PNG, JPEG and WebP uploads are stored, their type read from their bytes whatever they are called', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const cases: { name: string; image: Buffer; contentType: string }[] = [
    { name: 'png', image: await testImage(300, 200, 'png'), contentType: 'image/png' },
    { name: 'jpeg', image: await testImage(300, 200, 'jpeg'), contentType: 'image/jpeg' },
    { name: 'webp', image: await testImage(300, 200, 'webp'), contentType: 'image/webp' },
    { name: 'jpeg sent as a png', image: await testImage(300, 200, 'jpeg'), contentType: 'image/png' },
    { name: 'png sent as a jpeg', image: await testImage(300, 200, 'png'), contentType: 'image/jpeg' },
    { name: 'png with transparency', image: await testImage(300, 200, 'png', { alpha: true }), contentType: 'application/octet-stream' },
    { name: 'avif', image: await sharp(await testImage(300, 200, 'png')).avif({ quality: 80 }).toBuffer(), contentType: 'image/avif' },
    { name: 'gif', image: await sharp(await testImage(300, 200, 'png')).gif().toBuffer(), contentType: 'image/gif' },
  ];
  for (const { name, image, contentType } of cases) {
    const user = randomUUID();
    const answer = await upload(url, user, image, contentType);
    assert.equal(answer.status, 200, `${name}: ${answer.body.toString()}`);
    const picture = jsonOf<Picture>(answer);
    assert.equal(picture.userId, user, name);
    assert.match(picture.version, /^[0-9a-f]{32}$/, name);
    assert.deepEqual([picture.width, picture.height], [300, 200], name);
    assert.equal(picture.format, name === 'png with transparency' ? 'png' : 'jpeg', name);
    assert.deepEqual(await versionsOf(url, [user]), { [user]: picture.version }, name);
    // The variant is of the upload: the red block sits top-left (contain keeps the whole picture).
    const variant = await get(`${url}/avatars/${user}?size=64&fit=contain&v=${picture.version}`);
    assert.equal(variant.status, 200, name);
    assert.equal(formatOf(variant.body), 'png', name);
    const { data, info } = await sharp(variant.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // 300×200 contained in 64 px: 64×43 from row 10; the block is its left quarter, top half.
    const topLeft = (20 * info.width + 4) * 3;
    assert.ok(data[topLeft]! > 150 && data[topLeft + 1]! < 90, `${name}: red block at top left, got ${[...data.subarray(topLeft, topLeft + 3)]}`);
  }
});

test('the same bytes uploaded twice keep the same version; new bytes make a new one', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const image = await testImage(200, 200, 'jpeg');
  const first = jsonOf<Picture>(await upload(url, user, image));
  const again = jsonOf<Picture>(await upload(url, user, image));
  assert.equal(again.version, first.version);
  const other = jsonOf<Picture>(await upload(url, user, await testImage(200, 200, 'png', { alpha: true })));
  assert.notEqual(other.version, first.version);
  assert.deepEqual(await versionsOf(url, [user]), { [user]: other.version });
});

test('an image with EXIF orientation 6 and GPS is stored upright with no metadata at all', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const photo = await sharp(await testImage(400, 200, 'jpeg'))
    .withExif({ IFD0: { Make: 'TestCam', Model: 'Leaky' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' } })
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer();
  const sent = await sharp(photo).metadata();
  assert.equal(sent.orientation, 6);
  assert.ok(sent.exif && sent.exif.toString('latin1').includes('TestCam'));

  const answer = await upload(url, user, photo);
  assert.equal(answer.status, 200, answer.body.toString());
  const picture = jsonOf<Picture>(answer);
  // Orientation 6: shown turned a quarter clockwise, so 400×200 is 200×400 upright.
  assert.deepEqual([picture.width, picture.height], [200, 400]);

  for (const query of ['size=256&fit=contain&format=png', 'size=128&format=webp', 'size=64&format=avif', 'size=1024&fit=contain&format=png']) {
    const variant = await get(`${url}/avatars/${user}?${query}`);
    assert.equal(variant.status, 200, query);
    const served = await sharp(variant.body).metadata();
    assert.equal(served.exif, undefined, `${query}: no EXIF`);
    assert.equal(served.xmp, undefined, `${query}: no XMP`);
    assert.equal(served.icc, undefined, `${query}: no ICC profile`);
    assert.ok(served.orientation === undefined || served.orientation === 1, `${query}: no orientation left`);
    assert.equal(variant.body.toString('latin1').includes('TestCam'), false, query);
  }
  // Upright: contained in a square, the picture is a tall strip (transparent left and right).
  const contained = await sharp((await get(`${url}/avatars/${user}?size=256&fit=contain`)).body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const alphaAt = (x: number, y: number) => contained.data[(y * 256 + x) * 4 + 3]!;
  assert.equal(alphaAt(10, 128), 0, 'left margin transparent');
  assert.equal(alphaAt(128, 10), 255, 'top is picture');
});

test('anything that is not an image is 400 unsupported_image and stores nothing', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const png = await testImage(100, 100, 'png');
  const bodies: [string, Buffer][] = [
    ['text named .png', Buffer.from('hello, I am certainly a PNG\n'.repeat(20))],
    ['empty', Buffer.alloc(0)],
    ['png signature then garbage', Buffer.concat([png.subarray(0, 16), Buffer.alloc(2_000, 7)])],
    ['truncated png', png.subarray(0, Math.floor(png.length / 2))],
    ['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')],
  ];
  for (const [name, body] of bodies) {
    const answer = await upload(url, user, body, 'image/png');
    assert.equal(answer.status, 400, `${name}: ${answer.body.toString()}`);
    const error = errorOf(answer);
    assert.equal(error.code, 'INVALID_ARGUMENT', name);
    if (name !== 'empty') assert.equal(error.details.reason, 'unsupported_image', name);
  }
  assert.deepEqual(await versionsOf(url, [user]), { [user]: 'generated' });
});

test('a body over 5 MiB is 413 PAYLOAD_TOO_LARGE and stores nothing', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const big = Buffer.concat([await testImage(64, 64, 'png'), Buffer.alloc(6 * 1024 * 1024, 1)]);
  const answer = await upload(url, user, big);
  assert.equal(answer.status, 413, answer.body.toString().slice(0, 300));
  assert.equal(errorOf(answer).code, 'PAYLOAD_TOO_LARGE');
  assert.deepEqual(await versionsOf(url, [user]), { [user]: 'generated' });
  // And the service goes on taking uploads on a new connection.
  assert.equal((await upload(url, user, await testImage(64, 64, 'png'))).status, 200);
});

test("a credential naming user A cannot write or delete B's picture (403); B keeps theirs", async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const [alice, bob] = [randomUUID(), randomUUID()];
  const bobs = jsonOf<Picture>(await upload(url, bob, await testImage(120, 120, 'jpeg')));
  const write = await send(`${url}/pictures/${bob}`, 'PUT', { user: alice, body: await testImage(120, 120, 'png') });
  assert.equal(write.status, 403, write.body.toString());
  assert.equal(errorOf(write).code, 'FORBIDDEN');
  const remove = await send(`${url}/pictures/${bob}`, 'DELETE', { user: alice });
  assert.equal(remove.status, 403);
  // Without a user in the credential: 401.
  assert.equal((await send(`${url}/pictures/${bob}`, 'PUT', { body: await testImage(120, 120, 'png') })).status, 401);
  assert.deepEqual(await versionsOf(url, [bob, alice]), { [bob]: bobs.version, [alice]: 'generated' });
  // Only the gateway may call: another service's credential is refused.
  const fromMailer = await fetch(`${url}/pictures/versions`, {
    method: 'POST',
    headers: { ...(await import('@notify/lib/testing')).serviceHeaders('mailer', 'avatar'), 'content-type': 'application/json' },
    body: JSON.stringify({ userIds: [bob] }),
  });
  assert.equal(fromMailer.status, 403);
});

test('delete brings the generated avatar back; deleting again says there was none', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  const generated = await get(`${url}/avatars/${user}?size=64`);
  assert.equal(generated.headers.get('x-avatar-version'), 'generated');
  const picture = jsonOf<Picture>(await upload(url, user, await testImage(150, 150, 'jpeg')));
  const uploaded = await get(`${url}/avatars/${user}?size=64`);
  assert.equal(uploaded.headers.get('x-avatar-version'), picture.version);
  assert.notDeepEqual(uploaded.body, generated.body);

  const removed = await send(`${url}/pictures/${user}`, 'DELETE', { user });
  assert.equal(removed.status, 200);
  assert.deepEqual(jsonOf(removed), { deleted: true, version: 'generated' });
  const back = await get(`${url}/avatars/${user}?size=64`);
  assert.equal(back.headers.get('x-avatar-version'), 'generated');
  assert.deepEqual(back.body, generated.body);
  // The generated PNG variant is the very avatar /avatars/<userId>.png draws for that text.
  assert.deepEqual(back.body, (await get(`${url}/avatars/${user}.png?size=64`)).body);
  assert.deepEqual(await versionsOf(url, [user]), { [user]: 'generated' });
  assert.deepEqual(jsonOf(await send(`${url}/pictures/${user}`, 'DELETE', { user })), { deleted: false, version: 'generated' });
});

test('versions names every user asked for, generated for those without a picture; bad lists are 400', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const users = [randomUUID(), randomUUID(), randomUUID()];
  const picture = jsonOf<Picture>(await upload(url, users[1]!, await testImage(90, 90, 'webp')));
  assert.deepEqual(await versionsOf(url, users), { [users[0]!]: 'generated', [users[1]!]: picture.version, [users[2]!]: 'generated' });
  for (const body of ['{}', '{"userIds":[]}', '{"userIds":"x"}', JSON.stringify({ userIds: ['x'.repeat(129)] }), JSON.stringify({ userIds: Array(1001).fill('u') })]) {
    assert.equal((await send(`${url}/pictures/versions`, 'POST', { body })).status, 400, body.slice(0, 60));
  }
});

test('a large picture also gets 256 and 512 px working copies that smaller variants are drawn from, and all go with the version', async (t) => {
  // Nothing kept in memory once read: the copies' bytes are replaced in the database below.
  const { url, databaseUrl } = await build(t, { PRERENDER_VARIANTS: 'none', PICTURE_READ_CACHE_BYTES: '0' });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  t.after(() => client.end());
  const stored = async (user: string) =>
    (await client.query<{ version: string; data: Buffer }>('SELECT version, data FROM picture_bytes WHERE user_id = $1 ORDER BY version', [user])).rows;
  const sizeOf = async (data: Buffer) => (await sharp(data).metadata()).width;

  const big = randomUUID();
  const first = jsonOf<Picture>(await upload(url, big, await testImage(1600, 1200, 'jpeg'))).version;
  const rows = await stored(big);
  assert.deepEqual(rows.map((row) => row.version), [first, `${first}s`, `${first}w`]);
  assert.deepEqual(await Promise.all(rows.map((row) => sizeOf(row.data))), [1024, 256, 512]);
  // Small and large variants both render, each the size asked.
  for (const size of [64, 256, 600]) {
    const variant = await get(`${url}/avatars/${big}?size=${size}&format=png&v=${first}`);
    assert.equal(variant.status, 200);
    const { width, height } = await sharp(variant.body).metadata();
    assert.deepEqual([width, height], [size, size]);
  }
  // Which copy each size is drawn from: each copy's bytes replaced by a picture of its own colour.
  const colours = { s: { r: 250, g: 0, b: 0 }, w: { r: 0, g: 250, b: 0 }, '': { r: 0, g: 0, b: 250 } };
  for (const [suffix, background] of Object.entries(colours)) {
    const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background } }).jpeg().toBuffer();
    await client.query('UPDATE picture_bytes SET data = $3 WHERE user_id = $1 AND version = $2', [big, `${first}${suffix}`, bytes]);
  }
  // Variants not rendered before (WebP), so none comes from the cache.
  const drawnFrom = async (size: number) => {
    const { dominant } = await sharp((await get(`${url}/avatars/${big}?size=${size}&format=webp&v=${first}`)).body).stats();
    return dominant.r > 150 ? 's' : dominant.g > 150 ? 'w' : dominant.b > 150 ? 'original' : JSON.stringify(dominant);
  };
  assert.deepEqual(await Promise.all([32, 128, 129, 256, 257].map(drawnFrom)), ['s', 's', 'w', 'w', 'original']);

  // A new picture replaces them all; removing it leaves nothing.
  const second = jsonOf<Picture>(await upload(url, big, await testImage(900, 700, 'png'))).version;
  assert.deepEqual((await stored(big)).map((row) => row.version), [second, `${second}s`, `${second}w`]);
  assert.equal((await send(`${url}/pictures/${big}`, 'DELETE', { user: big })).status, 200);
  assert.deepEqual(await stored(big), []);

  // A picture of 300 px has only the 256 px copy; one of 200 px none: small variants come from the original itself.
  for (const [side, copies] of [
    [300, ['', 's']],
    [200, ['']],
  ] as const) {
    const user = randomUUID();
    const only = jsonOf<Picture>(await upload(url, user, await testImage(side, side, 'jpeg'))).version;
    assert.deepEqual((await stored(user)).map((row) => row.version), copies.map((suffix) => `${only}${suffix}`));
    for (const size of [64, 128, 256]) assert.equal((await get(`${url}/avatars/${user}?size=${size}&v=${only}`)).status, 200, `${side} px picture, ${size} px variant`);
  }
});
