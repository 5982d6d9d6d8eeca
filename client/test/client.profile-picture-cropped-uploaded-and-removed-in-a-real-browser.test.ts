// The profile picture in a real Chromium against the real system (the avatar service and the gateway
// as processes): a person opens the dialog from the header, picks a 1200×800 picture with four
// coloured quadrants, sees it cropped to a square on the canvas, zooms and drags (mouse and keys),
// uploads exactly that square, and the header, the profile card and their own notification in the
// feed show the new versioned avatar at once (it loads; its pixels are the crop's); a follower gets
// the new URL on the next notification; a 6 MB file is refused before anything is sent; removing the
// picture brings the generated avatar back everywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { socketIoClient } from '../../gateway/test/helper.ts';
import { browserWorld, createTopic, eventually, expectCount, expectText, loadedImageWidth, person, publish, register, topicRow } from './helper.ts';

const WIDTH = 1200;
const HEIGHT = 800;
type Rgb = [number, number, number];
const RED: Rgb = [220, 30, 30];
const GREEN: Rgb = [30, 200, 60];
const BLUE: Rgb = [30, 60, 220];
const YELLOW: Rgb = [240, 220, 20];

/** A PNG: red top left, green top right, blue bottom left, yellow bottom right. */
async function quadrantsPng(): Promise<Buffer> {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y += 1) {
    for (let x = 0; x < WIDTH; x += 1) {
      const colour = y < HEIGHT / 2 ? (x < WIDTH / 2 ? RED : GREEN) : x < WIDTH / 2 ? BLUE : YELLOW;
      pixels.set(colour, (y * WIDTH + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).png().toBuffer();
}

/** The named colour closest to `pixel`. */
function colourName(pixel: readonly number[]): string {
  const named: [string, Rgb][] = [
    ['red', RED],
    ['green', GREEN],
    ['blue', BLUE],
    ['yellow', YELLOW],
  ];
  const distance = (colour: Rgb) => colour.reduce((sum, value, index) => sum + (value - pixel[index]!) ** 2, 0);
  return named.reduce((best, candidate) => (distance(candidate[1]) < distance(best[1]) ? candidate : best))[0];
}

/** The colours of the crop canvas at points given as fractions of its width and height. */
async function canvasColours(canvas: Locator, points: readonly (readonly [number, number])[]): Promise<string[]> {
  const pixels = await canvas.evaluate((element, at) => {
    // Runs in the page; typed by hand, as this file compiles without the DOM's types.
    const node = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
    const context = node.getContext('2d');
    return at.map(([fx, fy]) => Array.from(context.getImageData(Math.floor(fx * node.width), Math.floor(fy * node.height), 1, 1).data).slice(0, 3));
  }, points);
  return pixels.map(colourName);
}

/** The colours of an image's bytes at the same kind of points. */
async function imageColours(bytes: Buffer, points: readonly (readonly [number, number])[]): Promise<string[]> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return points.map(([fx, fy]) => {
    const offset = (Math.floor(fy * info.height) * info.width + Math.floor(fx * info.width)) * info.channels;
    return colourName([data[offset]!, data[offset + 1]!, data[offset + 2]!]);
  });
}

const CORNERS = [
  [0.1, 0.1],
  [0.9, 0.1],
  [0.1, 0.9],
  [0.9, 0.9],
] as const;

interface Crop {
  x: number;
  y: number;
  side: number;
}

async function cropOf(canvas: Locator): Promise<Crop> {
  return JSON.parse((await canvas.getAttribute('data-crop')) ?? 'null') as Crop;
}

async function srcOf(image: Locator): Promise<string> {
  return (await image.getAttribute('src')) ?? '';
}

test('a profile picture is cropped, uploaded, shown everywhere at once, refused over 5 MB before sending, and removed, in a real browser', { timeout: 600_000 }, async (t) => {
  const world = await browserWorld(t, 'profile-picture');
  if (!world) return;
  const { system, shot, pageErrors, open } = world;
  const gateway = system.gateways[0]!;
  const { page } = await open();
  const { page: followerPage } = await open();
  /** The picture requests the page sends (preflights aside), as they leave the browser. */
  const pictureRequests: { method: string }[] = [];
  /** The gateway's answers to them (the stored picture's size among them). */
  const pictureAnswers: { method: string; status: number; body: Record<string, unknown> }[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/v1/me/avatar' && request.method() !== 'OPTIONS') pictureRequests.push({ method: request.method() });
  });
  page.on('response', (response) => {
    const method = response.request().method();
    if (new URL(response.url()).pathname !== '/api/v1/me/avatar' || method === 'OPTIONS') return;
    void response.json().then((body: Record<string, unknown>) => pictureAnswers.push({ method, status: response.status(), body }), () => undefined);
  });
  const item = (on: Page, title: string) => on.locator('[data-testid="notification-item"]', { has: on.getByTestId('notification-title').getByText(title, { exact: true }) });

  try {
    const ada = person('Ada');
    await register(page, ada);
    await register(followerPage, person('Bob'));
    const token = await page.evaluate(() => localStorage.getItem('notify.token'));
    assert.ok(token, 'the page keeps its session token');
    const api = await socketIoClient(gateway, token, t);
    const adaId = (await api.call('users.me', {})).id;

    // Ada's topic, followed by herself and Bob; her notification is in both feeds with the generated avatar.
    const topic = `pictures-${Math.random().toString(36).slice(2, 7)}`;
    await createTopic(page, topic, 'Pictures');
    await topicRow(page, topic).waitFor();
    const topicId = (await topicRow(page, topic).getAttribute('data-topic-id'))!;
    await api.call('topics.subscribe', { topicId });
    await followerPage.getByTestId('topics-refresh').click();
    await topicRow(followerPage, topic).getByTestId('topic-subscribe').click();
    await topicRow(followerPage, topic).getByTestId('topic-unsubscribe').waitFor();
    await publish(page, topic, 'Before the picture', 'with the generated avatar');
    const own = item(page, 'Before the picture');
    await own.waitFor();
    const headerAvatar = page.getByTestId('header-avatar');
    const generatedSrc = await srcOf(headerAvatar);
    assert.doesNotMatch(generatedSrc, /[?&]v=[0-9a-f]{16,}/, `the generated avatar at first: ${generatedSrc}`);
    assert.equal(await srcOf(own.getByTestId('notification-publisher-avatar')), generatedSrc, 'her notification shows the same avatar as the header');

    // --- The dialog, from the header; keyboard first: focus on "Choose a picture…", Escape closes. ---
    await page.getByRole('banner').getByRole('button', { name: `${ada.name}, change your profile picture` }).click();
    const dialog = page.getByRole('dialog', { name: 'Profile picture' });
    await dialog.waitFor();
    await eventually('focus on the choose button', () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(name: string): string | null } | null } }).document.activeElement?.getAttribute('data-testid') ?? null), (id) => id === 'picture-choose');
    await expectText(dialog, 'generated avatar');
    await shot(page, 'dialog-opened');
    await page.keyboard.press('Escape');
    await expectCount(page.getByRole('dialog'), 0);
    await page.getByTestId('open-picture').click();
    await dialog.waitFor();

    // --- Pick the picture: the crop is the largest centred square, the four colours in its corners. ---
    await dialog.getByLabel('Picture file').setInputFiles({ name: 'quadrants.png', mimeType: 'image/png', buffer: await quadrantsPng() });
    const crop = dialog.getByTestId('picture-crop');
    await crop.waitFor();
    assert.deepEqual(await cropOf(crop), { x: 200, y: 0, side: 800 });
    assert.deepEqual(await canvasColours(crop, CORNERS), ['red', 'green', 'blue', 'yellow'], 'the preview shows the picture');
    await eventually('focus on the crop', () => crop.evaluate((element) => element === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), (focused) => focused);
    await shot(page, 'picked-and-cropped');

    // --- Zoom to 2×: half the side, the same centre; the preview changes with it. ---
    await dialog.getByLabel(/^Zoom/).fill('2');
    await eventually('the zoomed crop', () => cropOf(crop), (square) => square.side === 400 && square.x === 400 && square.y === 200);
    const probe = [[0.55, 0.25]] as const;
    assert.deepEqual(await canvasColours(crop, probe), ['green'], 'right of the middle is the green quadrant');

    // --- Drag the picture right by 100 px: the square moves left (100 × 400 / 280 image px); the preview shows more red. ---
    const box = (await crop.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 50, box.y + box.height / 2, { steps: 5 });
    await page.mouse.move(box.x + box.width / 2 + 100, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const afterDrag = await eventually('the dragged crop', () => cropOf(crop), (square) => square.x < 300);
    assert.ok(Math.abs(afterDrag.x - (400 - (100 * 400) / 280)) < 2, `moved by the drag: ${JSON.stringify(afterDrag)}`);
    assert.deepEqual(await canvasColours(crop, probe), ['red'], 'the preview follows the drag');
    // An arrow key moves it too (the picture left, so the square right), by 5 % of the preview.
    await crop.focus();
    await page.keyboard.press('ArrowLeft');
    const afterKey = await eventually('the crop moved by a key', () => cropOf(crop), (square) => square.x > afterDrag.x);
    assert.ok(Math.abs(afterKey.x - afterDrag.x - 0.05 * 400) < 1, `moved by the key: ${JSON.stringify(afterKey)}`);
    assert.deepEqual(await canvasColours(crop, CORNERS), ['red', 'green', 'blue', 'yellow']);
    await shot(page, 'zoomed-and-dragged');

    // --- Save: one PUT with the 512×512 square; the new versioned URL everywhere, no reload. ---
    await dialog.getByRole('button', { name: 'Save picture' }).click();
    await expectText(dialog.getByTestId('picture-done'), 'Your new picture is saved');
    const puts = pictureRequests.filter((request) => request.method === 'PUT');
    assert.equal(puts.length, 1, 'one upload');
    // The browser sent the 512×512 square (a blob body playwright does not show): the stored picture's size says so.
    const saved = await eventually('the upload’s answer', async () => pictureAnswers.find((answer) => answer.method === 'PUT'), (answer) => answer !== undefined);
    assert.deepEqual({ status: saved!.status, width: saved!.body.width, height: saved!.body.height }, { status: 200, width: 512, height: 512 }, 'the upload is the 512×512 square');
    const newSrc = await eventually('the header’s new avatar', () => srcOf(headerAvatar), (src) => /[?&]v=[0-9a-f]{16,}/.test(src));
    const version = /[?&]v=([0-9a-f]+)/.exec(newSrc)![1]!;
    assert.ok(newSrc.startsWith(`${gateway.url}/avatars/${adaId}?`), `the gateway’s avatar path for Ada: ${newSrc}`);
    assert.ok((await loadedImageWidth(headerAvatar)) > 0, 'the new header avatar loads');
    assert.ok((await loadedImageWidth(dialog.getByTestId('picture-current'))) > 0, 'the dialog shows the new picture');
    await eventually('the profile card’s new avatar', () => srcOf(page.getByTestId('profile-avatar')), (src) => src.includes(`v=${version}`));
    await eventually('her own notification’s new avatar', () => srcOf(own.getByTestId('notification-publisher-avatar')), (src) => src === newSrc);
    assert.ok((await loadedImageWidth(own.getByTestId('notification-publisher-avatar'))) > 0, 'the feed’s avatar loads');
    // What the gateway serves at that URL is the square that was shown.
    const served = await fetch(newSrc);
    assert.equal(served.status, 200);
    assert.deepEqual(await imageColours(Buffer.from(await served.arrayBuffer()), CORNERS), ['red', 'green', 'blue', 'yellow'], 'the served avatar is the crop');
    await shot(page, 'uploaded');
    await page.keyboard.press('Escape');
    await expectCount(page.getByRole('dialog'), 0);
    await shot(page, 'new-avatar-everywhere');

    // The follower's next notification from Ada carries the new URL.
    await publish(page, topic, 'After the picture', 'with the new avatar');
    const followed = item(followerPage, 'After the picture');
    await followed.waitFor();
    assert.match(await srcOf(followed.getByTestId('notification-publisher-avatar')), new RegExp(`[?&]v=${version}(&|$)`));
    assert.ok((await loadedImageWidth(followed.getByTestId('notification-publisher-avatar'))) > 0);
    await shot(followerPage, 'follower-sees-new-avatar');

    // --- A 6 MB file: refused here in words, nothing sent. ---
    await page.getByTestId('open-picture').click();
    await dialog.waitFor();
    const sentBefore = pictureRequests.length;
    const big = Buffer.concat([await quadrantsPng(), Buffer.alloc(6 * 1024 * 1024)]);
    await dialog.getByLabel('Picture file').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: big });
    await expectText(dialog.getByTestId('picture-error'), 'may be at most 5 MB');
    await expectText(dialog.getByTestId('picture-error'), '“huge.png” is 6 MB');
    await expectCount(dialog.getByTestId('picture-crop'), 0);
    assert.equal(pictureRequests.length, sentBefore, 'nothing sent for a file over 5 MB');
    await shot(page, 'too-large-refused');

    // --- Remove: the generated avatar is back in the header and on her notifications. ---
    await dialog.getByRole('button', { name: 'Remove picture' }).click();
    await expectText(dialog.getByTestId('picture-done'), 'generated avatar is back');
    assert.deepEqual(
      pictureRequests.slice(sentBefore).map((request) => request.method),
      ['DELETE'],
    );
    const removed = await eventually('the removal’s answer', async () => pictureAnswers.find((answer) => answer.method === 'DELETE'), (answer) => answer !== undefined);
    assert.deepEqual({ status: removed!.status, version: removed!.body.version }, { status: 200, version: 'generated' });
    const restored = await eventually('the header’s generated avatar', () => srcOf(headerAvatar), (src) => !src.includes(`v=${version}`));
    assert.ok(/[?&]v=generated(&|$)/.test(restored) || !/[?&]v=/.test(restored), `generated or un-versioned: ${restored}`);
    assert.ok((await loadedImageWidth(headerAvatar)) > 0, 'the generated avatar loads');
    await eventually('her notifications’ avatars', () => page.getByTestId('notification-publisher-avatar').evaluateAll((images) => images.map((image) => image.getAttribute('src'))), (all) => all.length === 2 && all.every((src) => src === restored));
    await expectCount(dialog.getByRole('button', { name: 'Remove picture' }), 0);
    await shot(page, 'removed');

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  } catch (error) {
    await Promise.allSettled([shot(page, 'FAILED'), shot(followerPage, 'FAILED-follower')]);
    throw error;
  }
});
