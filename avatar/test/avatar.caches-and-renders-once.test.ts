// Rendered avatars are cached (keyv, bounded by bytes and entries, least recently used evicted
// first): a repeat is a hit, visible in the metrics; concurrent misses for one avatar render it
// once; past the render queue's bound requests get 503, past the deadline 504.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build, errorOf, get, metric } from './helper.ts';

test('a repeated request is a cache hit, shown in the metrics', async (t) => {
  const { url } = await build(t);
  const path = `${url}/avatars/ada.png?size=96`;
  const first = await get(path);
  assert.equal(await metric(url, 'avatar_cache_requests_total', { result: 'miss' }), 1);
  assert.equal(await metric(url, 'avatar_cache_requests_total', { result: 'hit' }), 0);
  const second = await get(path);
  assert.ok(second.body.equals(first.body));
  assert.equal(await metric(url, 'avatar_cache_requests_total', { result: 'hit' }), 1);
  assert.equal(await metric(url, 'avatar_renders_total', { style: 'identicon', outcome: 'ok' }), 1, 'drawn once');
  assert.equal(await metric(url, 'avatar_cache_entries'), 1);
  assert.equal(await metric(url, 'avatar_cache_bytes'), first.body.length);
  assert.equal(await metric(url, 'avatar_render_duration_seconds_count', { style: 'identicon' }), 1);
  assert.equal(await metric(url, 'avatar_renders_in_flight'), 0);
});

test('concurrent identical cold requests render once (single flight)', async (t) => {
  const { url } = await build(t);
  const n = 40;
  for (const style of ['identicon', 'github']) {
    // 1024 px: the render takes long enough for every request to arrive while it runs.
    const answers = await Promise.all(Array.from({ length: n }, () => get(`${url}/avatars/crowd.png?size=1024&style=${style}`)));
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(new Set(answers.map((a) => a.body.toString('base64'))).size, 1, 'every request got the same bytes');
    assert.equal(await metric(url, 'avatar_renders_total', { style }), 1, `${style}: ${n} requests, one render`);
  }
  assert.equal(await metric(url, 'avatar_cache_requests_total'), 2 * n, 'each request looked in the cache');
  // Several missed the cache, so they really were under way at the same time, and joined the one render.
  assert.ok((await metric(url, 'avatar_cache_requests_total', { result: 'miss' })) > 2);
});

test('the cache holds at most CACHE_MAX_BYTES of PNGs, evicting the least recently used', async (t) => {
  // A 128 px github avatar is about 300-550 bytes: 2,000 bytes hold a few of them.
  const { url } = await build(t, { CACHE_MAX_BYTES: '2000', PNG_COMPRESSION_LEVEL: '9' });
  const path = (i: number) => `${url}/avatars/seed-${i}.png?style=github`;
  await get(path(0));
  for (let i = 1; i < 20; i++) {
    await get(path(i));
    await get(path(0)); // kept fresh: never the least recently used
    assert.ok((await metric(url, 'avatar_cache_bytes')) <= 2000);
  }
  assert.ok((await metric(url, 'avatar_cache_evictions_total')) >= 10, 'old entries were evicted');
  const rendersBefore = await metric(url, 'avatar_renders_total');
  await get(path(0));
  assert.equal(await metric(url, 'avatar_renders_total'), rendersBefore, 'the recently used one is still cached');
  await get(path(1));
  assert.equal(await metric(url, 'avatar_renders_total'), rendersBefore + 1, 'an old one was evicted and is drawn again');
});

test('CACHE_MAX_ENTRIES bounds the count; CACHE_MAX_BYTES=0 turns caching off', async (t) => {
  const bounded = await build(t, { CACHE_MAX_ENTRIES: '3' });
  for (let i = 0; i < 10; i++) await get(`${bounded.url}/avatars/n${i}.png?size=16`);
  assert.equal(await metric(bounded.url, 'avatar_cache_entries'), 3);
  assert.equal(await metric(bounded.url, 'avatar_cache_evictions_total'), 7);

  const off = await build(t, { CACHE_MAX_BYTES: '0' });
  const a = await get(`${off.url}/avatars/ada.png`);
  const b = await get(`${off.url}/avatars/ada.png`);
  assert.ok(a.body.equals(b.body), 'still the same bytes');
  assert.equal(await metric(off.url, 'avatar_renders_total'), 2);
  assert.equal(await metric(off.url, 'avatar_cache_entries'), 0);
});

test('a full render queue refuses with 503 UNAVAILABLE and Retry-After; cached avatars are still served', async (t) => {
  // Level 9 at 1024 px: tens of milliseconds a render, while 30 requests arrive within a few.
  // Refusals are logged at error level; the test needs no such lines.
  const { url } = await build(t, { MAX_CONCURRENT_RENDERS: '1', MAX_QUEUED_RENDERS: '2', PNG_COMPRESSION_LEVEL: '9', LOG_LEVEL: 'fatal' });
  await get(`${url}/avatars/warm.png`);
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(`${url}/avatars/burst-${i}.png?size=1024`)));
  const statuses = answers.map((a) => a.status);
  const refused = answers.filter((a) => a.status !== 200);
  assert.ok(statuses.filter((s) => s === 200).length >= 3, `at least one running and two queued are drawn: ${statuses.join(' ')}`);
  assert.ok(refused.length > 0, `some are refused: ${statuses.join(' ')}`);
  for (const answer of refused) {
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).code, 'UNAVAILABLE');
    assert.equal(errorOf(answer).details.reason, 'OVERLOADED', 'marked as load shed: callers keep their breakers closed');
    assert.equal(answer.headers.get('retry-after'), '1');
  }
  assert.equal(await metric(url, 'avatar_renders_refused_total', { reason: 'overloaded' }), refused.length);
  assert.equal(await metric(url, 'avatar_renders_total'), 1 + 30 - refused.length, 'refused ones were not drawn');
  assert.equal((await get(`${url}/avatars/warm.png`)).status, 200);
  assert.equal((await get(`${url}/avatars/burst-${statuses.indexOf(503)}.png?size=1024`)).status, 200, 'a retry succeeds');
});

test('a render past RENDER_TIMEOUT_MS answers 504 TIMEOUT, and is cached for the retry', async (t) => {
  const { url } = await build(t, { RENDER_TIMEOUT_MS: '1', PNG_COMPRESSION_LEVEL: '9' });
  const slow = `${url}/avatars/slow.png?size=1024`;
  const answer = await get(slow);
  assert.equal(answer.status, 504);
  assert.equal(errorOf(answer).code, 'TIMEOUT');
  assert.equal(errorOf(answer).details.reason, 'OVERLOADED', 'marked as load shed: callers keep their breakers closed');
  assert.equal(await metric(url, 'avatar_renders_refused_total', { reason: 'timeout' }), 1);
  // The render went on; once it is cached, the retry is a hit.
  const deadline = Date.now() + 5_000;
  while ((await metric(url, 'avatar_cache_entries')) < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const retry = await get(slow);
  assert.equal(retry.status, 200);
  assert.equal(await metric(url, 'avatar_renders_total'), 1);
});
