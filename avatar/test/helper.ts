// avatar in this process on a free port (no discovery) on a fresh database, plain HTTP calls to it,
// its metrics, and PNG decoding with sharp.
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '@notify/lib';
import { serviceHeaders, TEST_SERVICE_SECRET, testDatabase } from '@notify/lib/testing';
import { buildApp, type AvatarApp } from '../src/app.ts';
import { configSchema } from '../src/config.ts';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface RunningAvatar {
  app: AvatarApp;
  url: string;
  /** Its database, to look at what it stored. */
  databaseUrl: string;
}

/** buildApp on a free port with `env` over test defaults; closed after the test. */
export async function build(t: TestContext, env: Record<string, string> = {}): Promise<RunningAvatar> {
  const db = await testDatabase(t);
  const config = loadConfig(configSchema, {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    SERVICE_SECRET: TEST_SERVICE_SECRET,
    DISCOVERY_REGISTER: 'false',
    DRAIN_DELAY_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const app = buildApp(config);
  const { port } = await app.service.listen();
  t.after(() => app.service.close('test over'));
  return { app, url: `http://127.0.0.1:${port}`, databaseUrl: db.url };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** A GET as the gateway makes it (its signed credential; only the gateway may call avatar). */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers: { ...serviceHeaders('gateway', 'avatar'), ...headers } });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The error body of a refused request. */
export function errorOf(answer: Answer): { code: string; message: string; details: Record<string, unknown> } {
  return (JSON.parse(answer.body.toString('utf8')) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
}

export { metricSum as metric } from '@notify/lib/testing';

/** Decodes a PNG (failing on anything else) into its size and raw RGB(A) pixels. */
export async function decodePng(png: Buffer): Promise<{ width: number; height: number; channels: number; pixels: Buffer }> {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`not a PNG: starts with ${png.subarray(0, 8).toString('hex')}`);
  const metadata = await sharp(png).metadata();
  if (metadata.format !== 'png') throw new Error(`sharp reads it as ${metadata.format}`);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, pixels: data };
}

/** A call as the gateway makes it, acting for `user` (the user its signed credential names). */
export async function send(url: string, method: string, options: { user?: string; body?: Buffer | string; contentType?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...serviceHeaders('gateway', 'avatar', options.user), ...options.headers };
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? (typeof options.body === 'string' ? 'application/json' : 'application/octet-stream');
  const response = await fetch(url, { method, headers, ...(options.body === undefined ? {} : { body: options.body }) });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The JSON body of an answer. */
export function jsonOf<T = Record<string, unknown>>(answer: Answer): T {
  return JSON.parse(answer.body.toString('utf8')) as T;
}

/** Uploads `image` as `user`'s own picture. */
export async function upload(url: string, user: string, image: Buffer, contentType = 'application/octet-stream'): Promise<Answer> {
  return send(`${url}/pictures/${user}`, 'PUT', { user, body: image, contentType });
}

/** A photo-like test image: a diagonal gradient with a block of colour, so crops and scales differ visibly. */
export async function testImage(width: number, height: number, format: 'png' | 'jpeg' | 'webp', options: { alpha?: boolean } = {}): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const block = x < width / 4 && y < height / 2;
      data[i] = block ? 230 : Math.round((255 * x) / width);
      data[i + 1] = block ? 20 : Math.round((255 * y) / height);
      data[i + 2] = block ? 40 : 128;
      if (options.alpha) data[i + 3] = x > width / 2 ? 128 : 255;
    }
  }
  const image = sharp(data, { raw: { width, height, channels } });
  if (format === 'png') return image.png().toBuffer();
  if (format === 'jpeg') return image.jpeg({ quality: 92 }).toBuffer();
  return image.webp({ quality: 90 }).toBuffer();
}

/** Magic bytes of each variant format. */
export function formatOf(bytes: Buffer): string {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (bytes.toString('latin1', 4, 8) === 'ftyp' && bytes.toString('latin1', 8, 12) === 'avif') return 'avif';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  return `unknown (${bytes.subarray(0, 12).toString('hex')})`;
}

/** Waits until `check` holds (polling), failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
