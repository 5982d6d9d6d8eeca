// Avatars never change for a URL, so they carry a strong ETag and a year-long immutable
// Cache-Control, and a conditional request naming the ETag gets 304 with no body.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesIfNoneMatch } from '../src/domain/conditional.ts';
import { serviceHeaders } from '@notify/lib/testing';
import { build, get, metric } from './helper.ts';

test('ETag, Cache-Control and 304 on If-None-Match', async (t) => {
  const { url } = await build(t);
  const path = `${url}/avatars/ada.png?size=64&style=github`;
  const first = await get(path);
  const etag = first.headers.get('etag')!;

  await t.test('a strong ETag and a public, immutable, year-long Cache-Control', () => {
    assert.equal(first.status, 200);
    assert.match(etag, /^"[A-Za-z0-9_-]{16,}"$/, 'strong: quoted, no W/ prefix');
    assert.equal(first.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  await t.test('If-None-Match with the ETag: 304, no body, the same validators', async () => {
    for (const header of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const answer = await get(path, { 'if-none-match': header });
      assert.equal(answer.status, 304, header);
      assert.equal(answer.body.length, 0, `${header}: no body`);
      assert.equal(answer.headers.get('etag'), etag);
      assert.equal(answer.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    }
  });

  await t.test('another ETag, or another avatar’s: 200 with the PNG', async () => {
    const other = (await get(`${url}/avatars/bob.png?size=64&style=github`)).headers.get('etag')!;
    for (const header of ['"nope"', other, etag.slice(0, -2) + '"']) {
      const answer = await get(path, { 'if-none-match': header });
      assert.equal(answer.status, 200, header);
      assert.ok(answer.body.equals(first.body));
    }
  });

  await t.test('another instance, which has not drawn it yet, draws it to compare and answers 304 too', async () => {
    const other = await build(t);
    const answer = await get(path.replace(url, other.url), { 'if-none-match': etag });
    assert.equal(answer.status, 304);
    assert.equal(await metric(other.url, 'avatar_renders_total'), 1, 'drawn once to learn its ETag');
  });

  await t.test('HEAD answers the same headers without the body', async () => {
    const response = await fetch(path, { method: 'HEAD', headers: serviceHeaders('gateway', 'avatar') });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('etag'), etag);
    assert.equal(response.headers.get('content-type'), 'image/png');
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });
});

test('If-None-Match matching follows RFC 9110 (weak comparison, lists, *)', () => {
  const etag = '"abc"';
  assert.equal(matchesIfNoneMatch(undefined, etag), false);
  assert.equal(matchesIfNoneMatch('', etag), false);
  assert.equal(matchesIfNoneMatch('"abc"', etag), true);
  assert.equal(matchesIfNoneMatch('W/"abc"', etag), true);
  assert.equal(matchesIfNoneMatch('"x", "abc"', etag), true);
  assert.equal(matchesIfNoneMatch('"x",W/"abc"', etag), true);
  assert.equal(matchesIfNoneMatch('*', etag), true);
  assert.equal(matchesIfNoneMatch('"abcd"', etag), false);
  assert.equal(matchesIfNoneMatch('abc', etag), false, 'unquoted is not the tag');
  assert.equal(matchesIfNoneMatch('"x", "y"', etag), false);
});
