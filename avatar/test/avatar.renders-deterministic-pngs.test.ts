// GET /avatars/:seed.png draws a real PNG of the asked size in either style, the same bytes for the
// same URL (on any instance), a different picture for another seed or style, and pixels that keep
// each style's shape: GitHub's mirrored cells, Don Park's quarter-turn symmetry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { build, decodePng, get } from './helper.ts';

/** Pixel hashes of ada@example.com at 128 px; a change here changes every user's avatar (and ETag). */
const GOLDEN = { github: '40d0ea67f1de119d', identicon: '2a16ae0431285466' };

test('avatars are valid PNGs of the asked size, identical for identical requests', async (t) => {
  const { url } = await build(t);
  const other = await build(t);

  await t.test('every style at 16, 77, 128 and 1024 px decodes to size × size', async () => {
    for (const style of ['github', 'identicon']) {
      for (const size of [16, 77, 128, 1024]) {
        const answer = await get(`${url}/avatars/ada@example.com.png?size=${size}&style=${style}`);
        assert.equal(answer.status, 200, `${style} ${size}`);
        assert.equal(answer.headers.get('content-type'), 'image/png');
        assert.equal(Number(answer.headers.get('content-length')), answer.body.length);
        const png = await decodePng(answer.body);
        assert.deepEqual([png.width, png.height], [size, size], `${style} ${size}`);
      }
    }
  });

  await t.test('no size means 128 px, no style means identicon', async () => {
    const plain = await get(`${url}/avatars/ada.png`);
    const explicit = await get(`${url}/avatars/ada.png?size=128&style=identicon`);
    assert.equal((await decodePng(plain.body)).width, 128);
    assert.ok(plain.body.equals(explicit.body));
    assert.equal(plain.headers.get('etag'), explicit.headers.get('etag'));
  });

  await t.test('the same request gives the same bytes and ETag, here and on another instance', async () => {
    for (const style of ['github', 'identicon']) {
      const path = `/avatars/user-42.png?size=200&style=${style}`;
      const first = await get(`${url}${path}`);
      const again = await get(`${url}${path}`);
      // Rendered afresh by an instance that never saw it: equal bytes mean drawing is deterministic, not just cached.
      const elsewhere = await get(`${other.url}${path}`);
      assert.ok(first.body.equals(again.body), style);
      assert.ok(first.body.equals(elsewhere.body), `${style}: another instance draws the same bytes`);
      assert.equal(first.headers.get('etag'), again.headers.get('etag'));
      assert.equal(first.headers.get('etag'), elsewhere.headers.get('etag'));
    }
  });

  await t.test('different seeds, styles and sizes give different avatars and ETags', async () => {
    const answers = await Promise.all(
      ['/avatars/ada.png', '/avatars/Ada.png', '/avatars/bob.png', '/avatars/ada.png?style=github', '/avatars/bob.png?style=github', '/avatars/ada.png?size=64'].map((path) => get(`${url}${path}`)),
    );
    const etags = new Set(answers.map((a) => a.headers.get('etag')));
    const bodies = new Set(answers.map((a) => a.body.toString('base64')));
    assert.equal(etags.size, answers.length, 'one ETag per avatar');
    assert.equal(bodies.size, answers.length, 'one picture per avatar');
    // Decoded too: different pixels, not only different encodings.
    const pixels = await Promise.all(answers.slice(0, 5).map(async (a) => (await decodePng(a.body)).pixels.toString('base64')));
    assert.equal(new Set(pixels).size, 5);
  });

  await t.test('github: cells mirrored left to right, a light ground with padding, at most two colours', async () => {
    for (const seed of ['ada', 'bob', 'cy', '0123456789abcdef']) {
      const { width, channels, pixels } = await decodePng((await get(`${url}/avatars/${seed}.png?style=github&size=120`)).body);
      const at = (x: number, y: number) => pixels.subarray((y * width + x) * channels, (y * width + x) * channels + 3).toString('hex');
      const colours = new Set<string>();
      for (let y = 0; y < width; y++) {
        for (let x = 0; x < width; x++) {
          colours.add(at(x, y));
          assert.equal(at(x, y), at(width - 1 - x, y), `${seed}: (${x}, ${y}) mirrors`);
        }
      }
      assert.ok(colours.size <= 2, `${seed}: ${[...colours].join(' ')}`);
      // 120 px: 10 px of padding all round.
      for (const [x, y] of [[0, 0], [9, 60], [60, 9], [110, 110]] as const) assert.equal(at(x, y), 'f0f0f0', `${seed}: padding at (${x}, ${y})`);
    }
  });

  await t.test('identicon: the same picture turned a quarter (Don Park’s symmetry), one hue on white', async () => {
    for (const seed of ['ada', 'bob', 'cy', '0123456789abcdef']) {
      const { width, channels, pixels } = await decodePng((await get(`${url}/avatars/${seed}.png?size=96`)).body);
      const at = (x: number, y: number, c: number) => pixels[(y * width + x) * channels + c]!;
      let differing = 0;
      for (let y = 0; y < width; y++) {
        for (let x = 0; x < width; x++) {
          // (x, y) turned clockwise about the centre lands on (width-1-y, x); edges may round by a level or two.
          for (let c = 0; c < 3; c++) if (Math.abs(at(x, y, c) - at(width - 1 - y, x, c)) > 2) differing += 1;
        }
      }
      assert.equal(differing, 0, `${seed}: not symmetric under a quarter turn`);
      assert.deepEqual([at(0, 0, 0), at(0, 0, 1), at(0, 0, 2)], [255, 255, 255], `${seed}: white margin`);
    }
  });

  await t.test('the drawings do not change between versions (users keep their avatars)', async () => {
    // Hashes of the decoded pixels: independent of libvips' PNG encoder, dependent only on the styles.
    const pixelsHash = async (path: string) => createHash('sha256').update((await decodePng((await get(`${url}${path}`)).body)).pixels).digest('hex').slice(0, 16);
    assert.equal(await pixelsHash('/avatars/ada@example.com.png?style=github'), GOLDEN.github);
    assert.equal(await pixelsHash('/avatars/ada@example.com.png?style=identicon'), GOLDEN.identicon);
  });
});
