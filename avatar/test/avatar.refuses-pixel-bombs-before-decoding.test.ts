// A small file that declares a huge image (a decompression bomb) is refused from its header, 400
// image_too_many_pixels, before anything is decoded: the avatar process's memory stays where it was.
// The service runs as a real child process here, so its memory is its own.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { spawnService, testDatabase } from '@notify/lib/testing';
import { errorOf, jsonOf, testImage, type Answer } from './helper.ts';

/** Resident memory of process `pid`, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((text) => text.startsWith('VmRSS:'));
  return Number(/([0-9]+) kB/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

test('a 100-megapixel bomb is 400 image_too_many_pixels and the process does not grow', async (t) => {
  const db = await testDatabase(t);
  const avatar = await spawnService({ entry: 'avatar/src/server.ts', env: { DATABASE_URL: db.url, DISCOVERY_REGISTER: 'false', PRERENDER_VARIANTS: 'none' } }, t);
  const put = async (user: string, body: Buffer): Promise<Answer> => {
    const response = await fetch(`${avatar.url}/pictures/${user}`, { method: 'PUT', headers: { ...avatar.headers(user), 'content-type': 'image/png' }, body });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  };
  // 10000×10000 of one colour: 300 MB of pixels in a few hundred KB of PNG (and a JPEG of it).
  const bombs: [string, Buffer][] = [
    ['png', await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#ff8800' } }).png({ compressionLevel: 9 }).toBuffer()],
    ['jpeg', await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#0088ff' } }).jpeg({ quality: 10 }).toBuffer()],
  ];
  // Warm up: one normal upload, so the baseline includes sharp and the database pool.
  assert.equal((await put(randomUUID(), await testImage(1600, 1200, 'jpeg'))).status, 200);
  const baseline = rssOf(avatar.process.pid!);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(avatar.process.pid!))), 5);
  try {
    for (const [name, bomb] of bombs) {
      assert.ok(bomb.length < 5 * 1024 * 1024, `${name} bomb fits the body limit (${bomb.length} bytes)`);
      const user = randomUUID();
      for (let round = 0; round < 3; round++) {
        const answer = await put(user, bomb);
        assert.equal(answer.status, 400, `${name}: ${answer.body.toString()}`);
        const error = errorOf(answer);
        assert.equal(error.details.reason, 'image_too_many_pixels', name);
        assert.equal(error.details.width, 10_000);
      }
      const versions = await fetch(`${avatar.url}/pictures/versions`, {
        method: 'POST',
        headers: { ...avatar.headers(), 'content-type': 'application/json' },
        body: JSON.stringify({ userIds: [user] }),
      });
      assert.deepEqual(jsonOf({ status: 200, headers: versions.headers, body: Buffer.from(await versions.arrayBuffer()) }), { versions: { [user]: 'generated' } });
    }
  } finally {
    clearInterval(sampler);
  }
  const grown = peak - baseline;
  // Decoding one bomb would take 300 MB; the header alone, nothing to speak of.
  assert.ok(grown < 150 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1024 / 1024)} MB`);
});
