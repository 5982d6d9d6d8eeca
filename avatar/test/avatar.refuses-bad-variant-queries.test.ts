// Variant URLs are checked at the edge: every bad size, format, fit, grayscale, blur, version or
// user id is a 400 naming the problem, never a 5xx; and nothing bad is ever rendered or cached.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { build, errorOf, get, metric, testImage, upload } from './helper.ts';

test('bad variant queries are 400 with a message, never 5xx', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const user = randomUUID();
  await upload(url, user, await testImage(100, 100, 'jpeg'));
  const rendersBefore = await metric(url, 'avatar_renders_total');
  const bad = [
    'size=15',
    'size=1025',
    'size=0',
    'size=-1',
    'size=12.5',
    'size=1e2',
    'size=0x40',
    'size=%2064',
    'size=',
    'size=99999999999999999999',
    'format=gif',
    'format=PNG',
    'format=jpeg',
    'format=',
    'fit=fill',
    'fit=',
    'grayscale=yes',
    'grayscale=1',
    'grayscale=',
    'blur=NaN',
    'blur=Infinity',
    'blur=0',
    'blur=0.2',
    'blur=21',
    'blur=-1',
    'blur=1e1',
    'blur=',
    'blur=%00',
    'size=64%00',
    'format=png%00',
    'v=%00',
    'v=abc',
    'v=GENERATED',
    `v=${'a'.repeat(65)}`,
    'size=64&size=128',
    'format=png&format=webp',
  ];
  for (const query of bad) {
    const answer = await get(`${url}/avatars/${user}?${query}`);
    assert.equal(answer.status, 400, `${query}: ${answer.status} ${answer.body.toString().slice(0, 200)}`);
    const error = errorOf(answer);
    assert.equal(error.code, 'INVALID_ARGUMENT', query);
    assert.ok(error.message.length > 0, query);
  }
  const badUsers = ['a'.repeat(129), 'a'.repeat(10_000), 'user%00id', 'user%20id', '%E2%9C%93', 'a%2Fb', 'semi;colon'];
  for (const badUser of badUsers) {
    const answer = await get(`${url}/avatars/${badUser}?size=64`);
    assert.ok(answer.status >= 400 && answer.status < 500, `${badUser.slice(0, 30)}: ${answer.status}`);
    if (answer.status !== 404) assert.equal(answer.status, 400, badUser.slice(0, 30));
  }
  assert.equal(await metric(url, 'avatar_renders_total'), rendersBefore, 'nothing rendered for a bad request');
  // The service is fine afterwards.
  assert.equal((await get(`${url}/avatars/${user}?size=64&format=webp&blur=0.3&grayscale=true&fit=contain`)).status, 200);
});

test('random query strings never get a 5xx', async (t) => {
  const { url } = await build(t, { PRERENDER_VARIANTS: 'none' });
  const keys = ['size', 'format', 'fit', 'grayscale', 'blur', 'v', 'style', 'x'];
  const values = ['', '0', '16', '1024', '4096', 'png', 'webp', 'avif', 'gif', 'cover', 'contain', 'true', 'false', 'NaN', '0.3', '20', '20.001', '%00', '%FF', '%', '%C0%80', 'generated', '0123456789abcdef', '💥', '-0', '1.', '.5'];
  let seed = 42;
  const next = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const statuses = new Map<number, number>();
  for (let i = 0; i < 150; i++) {
    const parts = Array.from({ length: 1 + next(4) }, () => `${keys[next(keys.length)]}=${values[next(values.length)]}`);
    const user = next(5) === 0 ? encodeURIComponent(values[next(values.length)]!) || 'u' : 'fuzz-user';
    const answer = await get(`${url}/avatars/${user}?${parts.join('&')}`);
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    assert.ok(answer.status < 500, `${user}?${parts.join('&')}: ${answer.status} ${answer.body.toString().slice(0, 200)}`);
  }
  assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, JSON.stringify([...statuses]));
});
