// The old avatar route, `/avatars/<text>.png`, works through the gateway: the avatar service's PNG,
// its cache headers and conditional answers pass through; its refusals keep their code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { jsonRpcClient, register, startSystem } from './helper.ts';

test('GET /avatars/… on the gateway serves the avatar service’s PNGs, ETags and 304s, and passes its 400s on', async (t) => {
  const system = await startSystem(t, { avatar: true });
  const [gateway] = system.gateways;
  const client = await jsonRpcClient(gateway!, undefined, t);
  await register(client, 'ada');
  const { id } = await client.call('users.me');
  // The generated avatar of any text (here the user's id), as it always was.
  const avatarUrl = `/avatars/${id}.png`;

  const first = await fetch(`${gateway!.url}${avatarUrl}?size=64`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'image/png');
  assert.match(first.headers.get('cache-control') ?? '', /max-age=31536000/);
  const etag = first.headers.get('etag');
  assert.ok(etag);
  const png = Buffer.from(await first.arrayBuffer());
  const { width, height, format } = await sharp(png).metadata();
  assert.deepEqual({ width, height, format }, { width: 64, height: 64, format: 'png' });

  const again = await fetch(`${gateway!.url}${avatarUrl}?size=64`);
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), png, 'the same bytes every time');
  const conditional = await fetch(`${gateway!.url}${avatarUrl}?size=64`, { headers: { 'if-none-match': etag } });
  assert.equal(conditional.status, 304);
  assert.equal((await conditional.arrayBuffer()).byteLength, 0);

  const github = await fetch(`${gateway!.url}${avatarUrl}?size=64&style=github`);
  assert.equal(github.status, 200);
  assert.notDeepEqual(Buffer.from(await github.arrayBuffer()), png, 'another style, another picture');

  for (const bad of ['?size=15', '?size=abc', '?style=cubist']) {
    const refused = await fetch(`${gateway!.url}${avatarUrl}${bad}`);
    assert.equal(refused.status, 400, bad);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
  }
  const badSeed = await fetch(`${gateway!.url}/avatars/${encodeURIComponent('no spaces')}.png`);
  assert.equal(badSeed.status, 400);
});
