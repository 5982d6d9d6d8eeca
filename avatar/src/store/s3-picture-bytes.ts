// The bytes of stored pictures in an S3-compatible store (AWS S3, MinIO, …): one object per version,
// keyed `pictures/<userId>/<version>`, each request signed with AWS Signature Version 4 over keep-alive HTTP(S).
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { ConfigError, createError, env, type AppError } from '@notify/lib';
import type { PictureBytesStore } from './picture-bytes.ts';

/** The avatar configuration's keys for the S3 store (spread into its schema; required when PICTURE_STORE=s3). */
export const s3ConfigShape = {
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional()
    .describe('S3-compatible endpoint of the pictures’ bytes, e.g. http://minio:9000 or https://s3.eu-west-1.amazonaws.com. Required when PICTURE_STORE=s3'),
  S3_REGION: env.string('us-east-1', 'Region the S3 requests are signed for (SigV4); MinIO accepts us-east-1'),
  S3_BUCKET: env.string('avatars', 'Bucket holding the pictures (objects pictures/<userId>/<version>); it must exist'),
  S3_ACCESS_KEY_ID: env.optionalString('Access key id the S3 requests are signed with. Required when PICTURE_STORE=s3'),
  S3_SECRET_ACCESS_KEY: env.optionalString('Secret access key the S3 requests are signed with. Required when PICTURE_STORE=s3'),
  S3_FORCE_PATH_STYLE: env.bool(true, 'Address the bucket in the path (http://host/bucket/key, as MinIO wants) rather than as a host name (http://bucket.host/key)'),
};

export type S3Config = z.infer<z.ZodObject<typeof s3ConfigShape>>;

const REQUIRED = ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const;

/**
 * For the avatar schema's superRefine: with PICTURE_STORE=s3 the endpoint and both keys must be set,
 * reported as `S3_ENDPOINT: required when PICTURE_STORE=s3` like any other bad variable.
 */
export function checkS3Config(config: Partial<S3Config> & { PICTURE_STORE?: string }, ctx: z.RefinementCtx): void {
  if (config.PICTURE_STORE !== 's3') return;
  for (const key of REQUIRED) {
    if (!config[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when PICTURE_STORE=s3' });
  }
}

/** A refusal or failure of the S3 store, naming the operation, the answer and, for a credential problem, the settings to check. */
export class S3StoreError extends Error {
  /** `status` and `s3Code`: S3's answer, when there was one (none: unreachable, or no answer in time). */
  constructor(
    message: string,
    readonly status?: number,
    readonly s3Code?: string,
  ) {
    super(message);
    this.name = 'S3StoreError';
  }
}

export interface S3StoreOptions {
  /** Longest one S3 request may take (default 10 s). */
  timeoutMs?: number;
  /** Sockets kept to the endpoint at most (default 16). */
  maxSockets?: number;
}

interface S3Answer {
  status: number;
  body: Buffer;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
/** Answers worth one more try: the store is busy or briefly failing (every operation here is idempotent). */
const TRANSIENT = new Set([500, 502, 503, 504]);

/** A key segment from any user id: only [A-Za-z0-9_-] stay, the rest %XX (so no `/`, `.` or `..` reaches the path). */
export function keySegment(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'), (byte) => {
    const ch = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/** The object key of one version of a user's picture. */
export function pictureKey(userId: string, version: string): string {
  if (!/^[A-Za-z0-9]{1,128}$/.test(version)) throw new RangeError(`not a picture version: ${JSON.stringify(version)}`);
  return `pictures/${keySegment(userId)}/${version}`;
}

/** RFC 3986 encoding of one path segment, as SigV4's canonical URI has it (S3: not encoded twice). */
const encodeSegment = (segment: string) => encodeURIComponent(segment).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The store over S3; checks the settings (ConfigError naming the first one missing) but does not reach the endpoint until used. */
export function createS3PictureBytes(config: Partial<S3Config>, options: S3StoreOptions = {}): PictureBytesStore {
  for (const key of REQUIRED) {
    if (!config[key]) throw new ConfigError(`invalid configuration: ${key}: required when PICTURE_STORE=s3`);
  }
  const endpoint = new URL(config.S3_ENDPOINT!);
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new ConfigError(`invalid configuration: S3_ENDPOINT: must be http or https (got ${JSON.stringify(config.S3_ENDPOINT)})`);
  const region = config.S3_REGION ?? 'us-east-1';
  const bucket = config.S3_BUCKET ?? 'avatars';
  const accessKeyId = config.S3_ACCESS_KEY_ID!;
  const secretAccessKey = config.S3_SECRET_ACCESS_KEY!;
  const pathStyle = config.S3_FORCE_PATH_STYLE ?? true;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const secure = endpoint.protocol === 'https:';
  const agent = new (secure ? https : http).Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 });
  const host = pathStyle ? endpoint.host : `${bucket}.${endpoint.host}`;
  const basePath = endpoint.pathname.replace(/\/+$/, '');

  let signingDay = '';
  let signingKey = Buffer.alloc(0);
  const keyFor = (day: string) => {
    if (day !== signingDay) {
      signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), 's3'), 'aws4_request');
      signingDay = day;
    }
    return signingKey;
  };

  /** One signed request: the canonical request, string to sign and Authorization of SigV4 (headers host, x-amz-content-sha256, x-amz-date). */
  const send = (method: 'GET' | 'PUT' | 'DELETE', key: string, body?: Buffer, contentType?: string): Promise<S3Answer> => {
    const path = `${basePath}${pathStyle ? `/${encodeSegment(bucket)}` : ''}/${key.split('/').map(encodeSegment).join('/')}`;
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = body ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256;
    const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
    const canonicalRequest = [method, path, '', `host:${host}`, `x-amz-content-sha256:${payloadHash}`, `x-amz-date:${amzDate}`, '', signedHeaders, payloadHash].join('\n');
    const scope = `${day}/${region}/s3/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    const signature = createHmac('sha256', keyFor(day)).update(stringToSign).digest('hex');
    const headers: Record<string, string | number> = {
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
    if (body) {
      headers['content-length'] = body.length;
      headers['content-type'] = contentType ?? 'application/octet-stream';
    }
    return new Promise<S3Answer>((resolve, reject) => {
      const request = (secure ? https : http).request(
        { protocol: endpoint.protocol, hostname: pathStyle ? endpoint.hostname : `${bucket}.${endpoint.hostname}`, port: endpoint.port || undefined, method, path, headers, agent, timeout: timeoutMs },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new S3StoreError(`S3 ${method} ${key}: no answer within ${timeoutMs} ms from ${endpoint.origin}`)));
      request.on('error', reject);
      request.end(body);
    });
  };

  /** send, once more after a short pause when the store is briefly failing or unreachable; any other answer as it came. */
  const sendWithRetry = async (method: 'GET' | 'PUT' | 'DELETE', key: string, body?: Buffer, contentType?: string): Promise<S3Answer> => {
    try {
      const answer = await send(method, key, body, contentType);
      if (!TRANSIENT.has(answer.status)) return answer;
    } catch (error) {
      if (error instanceof S3StoreError) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      return await send(method, key, body, contentType);
    } catch (error) {
      if (error instanceof S3StoreError) throw error;
      throw new S3StoreError(`S3 ${method} ${key}: ${endpoint.origin} unreachable: ${(error as Error).message}`);
    }
  };

  /** The error an unexpected answer becomes: S3's own code and message, and which settings to check. */
  const failure = (method: string, key: string, answer: S3Answer): S3StoreError => {
    const text = answer.body.toString('utf8');
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
    const hint =
      code === 'SignatureDoesNotMatch' || code === 'InvalidAccessKeyId' || code === 'AccessDenied' || answer.status === 403
        ? ' (check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION)'
        : code === 'NoSuchBucket'
          ? ` (bucket ${JSON.stringify(bucket)} does not exist at ${endpoint.origin}: create it, or check S3_BUCKET)`
          : '';
    return new S3StoreError(`S3 ${method} ${key}: ${answer.status} ${code ?? ''}${message ? `: ${message}` : ''}${hint}`.replace(/ {2,}/g, ' '), answer.status, code);
  };

  return {
    kind: 's3',
    async put(userId, version, bytes, contentType) {
      const key = pictureKey(userId, version);
      const answer = await sendWithRetry('PUT', key, bytes, contentType);
      if (answer.status !== 200) throw failure('PUT', key, answer);
    },
    async get(userId, version) {
      const key = pictureKey(userId, version);
      const answer = await sendWithRetry('GET', key);
      if (answer.status === 200) return answer.body;
      if (answer.status === 404 && /<Code>NoSuchKey<\/Code>/.test(answer.body.toString('utf8'))) return null;
      throw failure('GET', key, answer);
    },
    async delete(userId, version) {
      const key = pictureKey(userId, version);
      const answer = await sendWithRetry('DELETE', key);
      if (answer.status === 200 || answer.status === 204) return;
      if (answer.status === 404 && /<Code>NoSuchKey<\/Code>/.test(answer.body.toString('utf8'))) return;
      throw failure('DELETE', key, answer);
    },
    async close() {
      agent.destroy();
    },
  };
}

/**
 * `store` as the service answers for it: a failure of S3 is 503 UNAVAILABLE, retryable when it may
 * pass by itself (no answer, a 5xx, SlowDown), and with a longer Retry-After when S3 refuses this
 * service (its settings: credentials, bucket); the caller is not told the endpoint or the key, the
 * log has them.
 */
export function answeringUnavailable(store: PictureBytesStore): PictureBytesStore {
  const guarded =
    <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await operation(...args);
      } catch (error) {
        throw error instanceof S3StoreError ? unavailable(error) : error;
      }
    };
  return {
    kind: store.kind,
    put: guarded((userId: string, version: string, bytes: Buffer, contentType: string) => store.put(userId, version, bytes, contentType)),
    get: guarded((userId: string, version: string) => store.get(userId, version)),
    delete: guarded((userId: string, version: string) => store.delete(userId, version)),
    close: () => store.close(),
  };
}

function unavailable(error: S3StoreError): AppError {
  const passing = error.status === undefined || TRANSIENT.has(error.status) || error.status === 429;
  return createError({
    code: 'UNAVAILABLE',
    message: passing ? 'the picture store is not answering; try again' : 'the picture store refuses this service; try again later',
    retryable: passing,
    details: { retryAfterSeconds: passing ? 1 : 60 },
    cause: error,
  });
}
