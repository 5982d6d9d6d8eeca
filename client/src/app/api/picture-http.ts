// The gateway's profile-picture operations over HTTP (`PUT` and `DELETE /api/v1/me/avatar`, the session
// token as the bearer), at the same gateway address as the socket and the avatar images; upload
// progress, and every failure as an HttpCallError in the contract's codes.
import type { RpcErrorCode } from '@notify/lib/rpc';
import { HttpCallError, type HttpOperation } from './errors.ts';

/** The largest picture the gateway accepts (its PICTURE_MAX_BYTES: 5 MiB); checked here first. */
export const PICTURE_MAX_BYTES = 5 * 1024 * 1024;
/** Longest an upload or a removal may take before it is given up here. */
const TIMEOUT_MS = 60_000;
const PATH = '/api/v1/me/avatar';

export interface PictureSaved {
  /** The new avatar's path on the gateway (`…/<userId>?v=<version>`), as users.me answers it. */
  avatarUrl: string;
  version: string;
  width: number;
  height: number;
}

export interface PictureRemoved {
  avatarUrl: string;
  version: string;
}

/** The code of a status the gateway answered without a readable error body. */
function codeOfStatus(status: number): RpcErrorCode {
  const codes: Record<number, RpcErrorCode> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    409: 'CONFLICT',
    413: 'PAYLOAD_TOO_LARGE',
    429: 'RATE_LIMITED',
    503: 'UNAVAILABLE',
    504: 'TIMEOUT',
  };
  return codes[status] ?? 'INTERNAL';
}

function failure(xhr: XMLHttpRequest, operation: HttpOperation): HttpCallError {
  let body: unknown;
  try {
    body = JSON.parse(xhr.responseText);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? (error.code as RpcErrorCode) : codeOfStatus(xhr.status);
  const details = typeof error?.details === 'object' && error.details !== null ? { ...(error.details as Record<string, unknown>) } : {};
  const retryAfter = Number(xhr.getResponseHeader('retry-after'));
  if (details.retryAfterSeconds === undefined && Number.isFinite(retryAfter) && retryAfter > 0) details.retryAfterSeconds = retryAfter;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${xhr.status}`;
  return new HttpCallError({ code, message, details }, operation, xhr.status);
}

interface Sent {
  method: 'PUT' | 'DELETE';
  operation: HttpOperation;
  body?: Blob;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/** One request to the gateway; resolves with its JSON answer on 2xx. XMLHttpRequest: fetch reports no upload progress. */
function send(gatewayUrl: string, token: string | null, { method, operation, body, onProgress, signal }: Sent): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (navigator.onLine === false) {
      reject(new HttpCallError({ code: 'UNAVAILABLE', message: 'the browser is offline', details: { offline: true } }, operation, 0));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(method, `${gatewayUrl}${PATH}`);
    xhr.timeout = TIMEOUT_MS;
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (body) xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    if (onProgress) xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300) return reject(failure(xhr, operation));
      try {
        resolve(JSON.parse(xhr.responseText));
      } catch {
        reject(new HttpCallError({ code: 'INTERNAL', message: 'the answer is not JSON' }, operation, xhr.status));
      }
    };
    xhr.onerror = () => reject(new HttpCallError({ code: 'UNAVAILABLE', message: 'no answer from the gateway', details: { network: true } }, operation, 0));
    xhr.ontimeout = () => reject(new HttpCallError({ code: 'TIMEOUT', message: `no answer within ${TIMEOUT_MS} ms` }, operation, 0));
    xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body ?? null);
  });
}

function answerOf<T extends PictureRemoved>(value: unknown, operation: HttpOperation, numbers: readonly string[]): T {
  const answer = value as Record<string, unknown> | null;
  const valid = typeof answer?.avatarUrl === 'string' && typeof answer.version === 'string' && numbers.every((key) => typeof answer[key] === 'number');
  if (!valid) throw new HttpCallError({ code: 'INTERNAL', message: 'unexpected answer' }, operation, 200);
  return answer as unknown as T;
}

/** Stores `picture` (the image's bytes) as the session user's profile picture. */
export async function uploadPicture(gatewayUrl: string, token: string | null, picture: Blob, options: { onProgress?: (fraction: number) => void; signal?: AbortSignal } = {}): Promise<PictureSaved> {
  const answer = await send(gatewayUrl, token, { method: 'PUT', operation: 'picture.upload', body: picture, ...options });
  return answerOf<PictureSaved>(answer, 'picture.upload', ['width', 'height']);
}

/** Removes the session user's picture: the generated avatar is theirs again. */
export async function removePicture(gatewayUrl: string, token: string | null, options: { signal?: AbortSignal } = {}): Promise<PictureRemoved> {
  const answer = await send(gatewayUrl, token, { method: 'DELETE', operation: 'picture.remove', ...options });
  return answerOf<PictureRemoved>(answer, 'picture.remove', []);
}
