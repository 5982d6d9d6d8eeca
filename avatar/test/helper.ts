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
  return { app, url: `http://127.0.0.1:${port}` };
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
