// A person's own picture end to end, with real processes (two gateways, the avatar service, auth,
// PostgreSQL): uploaded with the session token through one gateway, users.me's avatarUrl names the
// new version on both gateways, and that URL through the gateway is the picture's variant (decoded
// here), immutable, served again from the gateway's cache and answered 304 on a matching
// If-None-Match. Only the caller's own picture changes: another user's token writes only theirs and
// a forged direct call to the avatar service is refused. Past 5 MiB is 413, no token or a logged-out
// session is 401, removing it brings the generated avatar back (and the gateways forget the variants
// they kept of the old one), and odd input is a 4xx, never a 5xx. Register and login answer the
// versioned URL too, and the upload path answers a browser's preflight.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { serviceHeaders } from '@notify/lib/testing';
import { jsonRpcClient, metric, register, startSystem } from './helper.ts';

const PATH = '/api/v1/me/avatar';

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('an uploaded picture is everyone’s view of its owner’s avatar, on every gateway, and only its owner changes it', async (t) => {
  const system = await startSystem(t, { avatar: true, gateways: 2 });
  const [one, two] = system.gateways as [(typeof system.gateways)[0], (typeof system.gateways)[0]];
  const [avatar] = system.avatar;
  const ada = await jsonRpcClient(one, undefined, t);
  const adaEmail = `ada-${Math.random().toString(36).slice(2)}@example.test`;
  const registered = await ada.call('users.register', { email: adaEmail, password: 'correct horse battery', name: 'ada' });
  const a = { id: registered.user.id, token: registered.token };
  const adaOnTwo = await jsonRpcClient(two, a.token, t);
  const bob = await jsonRpcClient(one, undefined, t);
  const b = await register(bob, 'bob');
  const upload = (gateway: { url: string }, token: string | undefined, body: Buffer | Uint8Array, contentType = 'image/jpeg') =>
    fetch(`${gateway.url}${PATH}`, { method: 'PUT', headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });

  const generatedUrl = (await ada.call('users.me')).avatarUrl;
  assert.equal(generatedUrl, `/avatars/${a.id}?v=generated`);
  assert.equal(registered.user.avatarUrl, generatedUrl, 'register answers the versioned URL, as users.me does');
  const loggingIn = await jsonRpcClient(two, undefined, t);
  const loggedIn = await loggingIn.call('users.login', { email: adaEmail, password: 'correct horse battery' });
  assert.equal(loggedIn.user.avatarUrl, generatedUrl, 'so does login, on the other gateway');
  assert.equal((await adaOnTwo.call('users.me')).avatarUrl, generatedUrl, 'gateway two has read (and keeps) the generated version');

  const picture = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toBuffer();
  const put = await upload(one, a.token, picture);
  assert.equal(put.status, 200, await put.clone().text());
  const uploaded = (await put.json()) as { avatarUrl: string; version: string; width: number; height: number };
  assert.match(uploaded.version, /^[0-9a-f]{32}$/);
  assert.deepEqual([uploaded.avatarUrl, uploaded.width, uploaded.height], [`/avatars/${a.id}?v=${uploaded.version}`, 300, 200]);

  await t.test('users.me names the new version on the uploading gateway and, over the bus, on the other', async () => {
    assert.equal((await ada.call('users.me')).avatarUrl, uploaded.avatarUrl);
    await until(() => adaOnTwo.call('users.me'), (me) => me.avatarUrl === uploaded.avatarUrl, 'gateway two to hear the new version');
  });

  await t.test('the versioned URL is the picture’s variant, immutable, then served from the gateway’s cache and 304 on its ETag', async () => {
    const url = `${one.url}${uploaded.avatarUrl}&size=64&format=webp`;
    const first = await fetch(url);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'image/webp');
    assert.match(first.headers.get('cache-control') ?? '', /immutable/);
    const bytes = Buffer.from(await first.arrayBuffer());
    const { width, height, format } = await sharp(bytes).metadata();
    assert.deepEqual({ width, height, format }, { width: 64, height: 64, format: 'webp' });
    const { dominant } = await sharp(bytes).stats();
    assert.ok(dominant.r > 150 && dominant.g < 90, `the uploaded red picture, not a generated avatar: ${JSON.stringify(dominant)}`);
    const etag = first.headers.get('etag');
    assert.ok(etag);

    const hitsBefore = (await metric(one, 'gateway_cache_requests_total', { cache: 'avatar-variant', result: 'hit' })) ?? 0;
    const answeredBefore = (await metric(one, 'http_requests_total', { method: 'GET', route: '/avatars/:file', status: '200' })) ?? 0;
    // The same variant with its query in another order is the same cached answer.
    const again = await fetch(`${one.url}/avatars/${a.id}?format=webp&size=64&v=${uploaded.version}`);
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytes);
    assert.equal(again.headers.get('etag'), etag);
    const conditional = await fetch(url, { headers: { 'if-none-match': etag } });
    assert.equal(conditional.status, 304);
    assert.equal((await conditional.arrayBuffer()).byteLength, 0);
    assert.equal((await metric(one, 'gateway_cache_requests_total', { cache: 'avatar-variant', result: 'hit' })) ?? 0, hitsBefore + 2, 'both answered from the cache');
    assert.equal((await metric(one, 'http_requests_total', { method: 'GET', route: '/avatars/:file', status: '200' })) ?? 0, answeredBefore + 1, 'answers from the cache are counted as any other');
    assert.equal(again.headers.get('access-control-allow-origin'), null, 'CORS is the upload path’s alone');

    const unversioned = await fetch(`${one.url}/avatars/${a.id}?size=64&format=webp`);
    assert.equal(unversioned.status, 200);
    assert.match(unversioned.headers.get('cache-control') ?? '', /no-cache/);
  });

  await t.test('bob’s token writes only bob’s picture; a direct call naming another user is refused', async () => {
    const blue = await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 20, g: 20, b: 220 } } }).png().toBuffer();
    const bobs = await upload(one, b.token, blue, 'image/png');
    assert.equal(bobs.status, 200);
    assert.match(((await bobs.json()) as { avatarUrl: string }).avatarUrl, new RegExp(`^/avatars/${b.id}\\?v=`));
    assert.equal((await ada.call('users.me')).avatarUrl, uploaded.avatarUrl, 'ada’s is unchanged');

    const unsigned = await fetch(`${avatar!.url}/pictures/${a.id}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blue });
    assert.equal(unsigned.status, 401);
    const forged = await fetch(`${avatar!.url}/pictures/${a.id}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', ...serviceHeaders('gateway', 'avatar', b.id) }, body: blue });
    assert.ok([401, 403].includes(forged.status), `a credential naming bob cannot write ada’s picture (${forged.status})`);
    const { versions } = (await (
      await fetch(`${avatar!.url}/pictures/versions`, { method: 'POST', headers: { 'content-type': 'application/json', ...serviceHeaders('gateway', 'avatar') }, body: JSON.stringify({ userIds: [a.id] }) })
    ).json()) as { versions: Record<string, string> };
    assert.equal(versions[a.id], uploaded.version);
  });

  await t.test('refusals: past 5 MiB is 413 and nothing changes, no token or a logged-out session is 401', async () => {
    const big = await upload(one, a.token, Buffer.alloc(6 * 1024 * 1024, 1));
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
    const none = await upload(one, undefined, picture);
    assert.equal(none.status, 401);
    const leaving = await jsonRpcClient(one, undefined, t);
    const c = await register(leaving, 'cy');
    await leaving.call('users.logout');
    const gone = await upload(two, c.token, picture);
    assert.equal(gone.status, 401);
    assert.equal((await ada.call('users.me')).avatarUrl, uploaded.avatarUrl);
  });

  await t.test('a browser’s preflight of the upload path is answered before any route; other paths are not CORS', async () => {
    for (const url of [`${one.url}${PATH}`, `${one.url}${PATH}?any=1`]) {
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.example', 'access-control-request-method': 'PUT' } });
      assert.equal(preflight.status, 204, url);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
    }
    const refused = await upload(one, undefined, picture);
    assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'its refusals are readable by the page too');
    const other = await fetch(`${one.url}${PATH}s`, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  await t.test('odd input is a 4xx, never a 5xx', async () => {
    const answers = await Promise.all([
      upload(one, b.token, Buffer.alloc(0)),
      upload(one, b.token, Buffer.alloc(1024, 0)),
      upload(one, b.token, Buffer.from('not a picture at all'), 'text/plain'),
      fetch(`${one.url}/avatars/${a.id}?size=${'9'.repeat(5_000)}`),
      fetch(`${one.url}/avatars/${a.id}?nonsense=1`),
      fetch(`${one.url}/avatars/${a.id}?size=64&size=65`),
      fetch(`${one.url}/avatars/${a.id}?format=bmp`),
      fetch(`${one.url}/avatars/${a.id}?v=%00`).then(async (answer) => {
        const { error } = (await answer.clone().json()) as { error: { details?: { reason?: string } } };
        assert.deepEqual([answer.status, error.details?.reason], [400, 'unstorable_text'], 'a NUL in the query is the caller’s mistake');
        return answer;
      }),
      fetch(`${one.url}/avatars/%00?size=64`),
      fetch(`${one.url}${PATH}`, { method: 'DELETE', headers: { authorization: `Bearer ${'x'.repeat(600)}` } }),
    ]);
    for (const [at, answer] of answers.entries()) assert.ok(answer.status >= 400 && answer.status < 500, `#${at}: ${answer.status}`);
  });

  await t.test('removing the picture brings the generated avatar back, on both gateways', async () => {
    const removed = await fetch(`${two.url}${PATH}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.token}` } });
    assert.equal(removed.status, 200);
    assert.deepEqual(await removed.json(), { avatarUrl: generatedUrl, version: 'generated' });
    await until(() => ada.call('users.me'), (me) => me.avatarUrl === generatedUrl, 'gateway one to hear the removal');
    const variant = await fetch(`${one.url}${generatedUrl}&size=64&format=png`);
    assert.equal(variant.status, 200);
    const { dominant } = await sharp(Buffer.from(await variant.arrayBuffer())).stats();
    assert.ok(!(dominant.r > 150 && dominant.g < 90 && dominant.b < 90), 'not the removed red picture');

    // Gateway one had kept the red picture's variant under its versioned URL: it is forgotten with the removal.
    const hitsBefore = (await metric(one, 'gateway_cache_requests_total', { cache: 'avatar-variant', result: 'hit' })) ?? 0;
    const old = await fetch(`${one.url}${uploaded.avatarUrl}&size=64&format=webp`);
    assert.equal(old.status, 200);
    assert.match(old.headers.get('cache-control') ?? '', /no-cache/, 'the old URL now names a stale version');
    const oldColour = (await sharp(Buffer.from(await old.arrayBuffer())).stats()).dominant;
    assert.ok(!(oldColour.r > 150 && oldColour.g < 90 && oldColour.b < 90), `the removed picture is not served under its old URL: ${JSON.stringify(oldColour)}`);
    assert.equal((await metric(one, 'gateway_cache_requests_total', { cache: 'avatar-variant', result: 'hit' })) ?? 0, hitsBefore, 'not from the gateway’s cache');
  });
});
