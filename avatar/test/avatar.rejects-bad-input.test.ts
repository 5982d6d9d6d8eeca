// Bad seeds, sizes and styles get 400 INVALID_ARGUMENT with a message naming the problem, and
// nothing is drawn for them; a URL that is not an avatar is 404.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build, errorOf, get, metric } from './helper.ts';

test('bad avatar requests are 400 with the kit’s error body', async (t) => {
  const { url } = await build(t);
  const refused = async (path: string, mentions: string) => {
    const answer = await get(`${url}${path}`);
    assert.equal(answer.status, 400, path);
    assert.match(answer.headers.get('content-type') ?? '', /application\/json/);
    const error = errorOf(answer);
    assert.equal(error.code, 'INVALID_ARGUMENT', path);
    assert.ok(error.message.includes(mentions), `${path}: "${error.message}" should mention ${mentions}`);
    return error;
  };

  await t.test('seeds: 1-128 of A-Z a-z 0-9 . _ @ + -', async () => {
    const bad = ['', 'x'.repeat(129), 'a%20b', 'a%2Fb', '%C3%A9t%C3%A9', 'a%22b', '..%2F..%2Fetc', 'a~b', 'a%25b'];
    for (const seed of bad) await refused(`/avatars/${seed}.png`, 'seed must be 1-128 characters');
    // A NUL is refused by the kit before any route, as in every service.
    await refused('/avatars/a%00.png', 'must not contain NUL characters');
    const error = await refused('/avatars/a%2Fb.png', 'seed');
    assert.ok(error.message.includes('"a/b"'), 'the message quotes what was sent');
    for (const seed of ['x'.repeat(128), 'ada.lovelace+avatars@example.com', '550e8400-e29b-41d4-a716-446655440000', 'A_b-c.d', 'd41d8cd98f00b204e9800998ecf8427e']) {
      assert.equal((await get(`${url}/avatars/${seed}.png`)).status, 200, seed);
    }
  });

  await t.test('sizes: whole numbers from 16 to 1024', async () => {
    for (const size of ['0', '15', '1025', 'abc', '12.5', '-16', '', '1e2', '%2064', '0x40', '64px', '99999999999', '128&size=64']) {
      await refused(`/avatars/ada.png?size=${size}`, 'size must be a whole number of pixels from 16 to 1024');
    }
    for (const size of ['16', '1024', '0128']) assert.equal((await get(`${url}/avatars/ada.png?size=${size}`)).status, 200, size);
  });

  await t.test('styles: github or identicon', async () => {
    for (const style of ['foo', 'GITHUB', '', 'identicon%20', '__proto__', 'toString']) {
      await refused(`/avatars/ada.png?style=${style}`, 'unknown avatar style');
    }
    const error = await refused('/avatars/ada.png?style=foo', 'github, identicon');
    assert.ok(error.message.includes('"foo"'));
  });

  await t.test('nothing was drawn for any of them', async () => {
    // The valid requests above drew 8 avatars (5 seeds, and ada at 16, 1024 and 0128 = 128 px); the refused ones none.
    assert.equal(await metric(url, 'avatar_renders_total'), 8);
  });

  await t.test('paths that are not avatars are 404 NOT_FOUND', async () => {
    // (`/avatars/ada` without `.png` is a variant of user ada's avatar: see the variant tests;
    // `/avatars/` names an empty user id, 400.)
    assert.equal((await get(`${url}/avatars/`)).status, 400);
    for (const path of ['/avatars/a/b.png', '/avatars/a/b', '/avatar/ada.png']) {
      const answer = await get(`${url}${path}`);
      assert.equal(answer.status, 404, path);
      assert.equal(errorOf(answer).code, 'NOT_FOUND');
    }
  });
});
