// A user's own picture, on the gateway's behalf: PUT /pictures/:userId stores the image in the body
// (read here, refused with 413 past PICTURE_MAX_BYTES) as the user's picture, DELETE removes it,
// POST /pictures/versions names each user's current version. Writes act only for the user the
// gateway's signed credential names.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actingUser, createError, serveRoute } from '@notify/lib';
import { avatarContract, PICTURE_MAX_BYTES } from '@notify/lib/contracts';
import { normalisePicture, storedVersions, workingVersion, type NormaliseLimits } from '../render/picture-normaliser.ts';
import type { Prerenderer } from '../render/prerender.ts';
import type { RenderLimiter } from '../render/render-limiter.ts';
import { GENERATED } from '../render/variant-renderer.ts';
import type { PictureBytesStore } from '../store/picture-bytes.ts';
import { toPicture, type PictureTable } from '../store/pictures.ts';

export interface PictureRoutesOptions {
  pictures: PictureTable;
  store: PictureBytesStore;
  limiter: RenderLimiter;
  prerenderer: Prerenderer;
  limits: NormaliseLimits;
}

/** A refused body's rest is read and dropped up to this much (then the connection is cut), so the 413 reaches the caller. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

const { putPicture, deletePicture, versions } = avatarContract.routes;

export async function pictureRoutes(app: FastifyInstance, options: PictureRoutesOptions): Promise<void> {
  const { pictures, store, limiter, prerenderer, limits } = options;
  // A version's bytes: the original and its working copies (removing one it does not have is no error).
  const removeBytes = async (userId: string, version: string) => {
    for (const stored of storedVersions(version)) await store.delete(userId, stored);
  };
  // One change at a time per user: a version's bytes are removed only once nothing names them.
  const changes = new Map<string, Promise<unknown>>();
  const oneAtATime = async <T>(userId: string, change: () => Promise<T>): Promise<T> => {
    const before = changes.get(userId) ?? Promise.resolve();
    const mine = before.then(change, change);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    changes.set(userId, settled);
    void settled.then(() => {
      if (changes.get(userId) === settled) changes.delete(userId);
    });
    return mine;
  };

  // The image's bytes, whatever the content type says (the type is read from the bytes).
  app.addContentTypeParser('*', (request, payload, done) => {
    readBounded(request, payload).then(
      (body) => done(null, body),
      (error: Error) => done(error),
    );
  });

  serveRoute(app, putPicture, {}, async (request) => {
    const userId = ownUser(request, request.params.userId);
    const upload = request.body;
    const picture = await limiter.run(() => normalisePicture(Buffer.from(upload.buffer, upload.byteOffset, upload.byteLength), limits));
    return oneAtATime(userId, async () => {
      // The bytes first (the working copies, then the original), then the table names them, then the
      // replaced version's bytes go.
      for (const copy of picture.working) await store.put(userId, workingVersion(picture.version, copy.side), copy.bytes, picture.contentType);
      await store.put(userId, picture.version, picture.bytes, picture.contentType);
      const { row, replaced } = await pictures.replace({ userId, version: picture.version, format: picture.format, width: picture.width, height: picture.height, bytes: picture.bytes.byteLength });
      if (replaced !== undefined && replaced !== picture.version) await removeBytes(userId, replaced);
      prerenderer.schedule(userId, picture.version);
      request.log.info({ userId, version: picture.version, bytes: picture.bytes.byteLength }, 'picture stored');
      return toPicture(row);
    });
  });

  serveRoute(app, deletePicture, {}, async (request) => {
    const userId = ownUser(request, request.params.userId);
    return oneAtATime(userId, async () => {
      const removed = await pictures.remove(userId);
      if (removed !== undefined) await removeBytes(userId, removed);
      return { deleted: removed !== undefined, version: GENERATED };
    });
  });

  serveRoute(app, versions, {}, async (request) => {
    const found = await pictures.versions(request.body.userIds);
    return { versions: Object.fromEntries(request.body.userIds.map((userId) => [userId, found.get(userId) ?? GENERATED])) };
  });
}

/** The user the credential names, who must be the one in the path: nobody writes another's picture. */
function ownUser(request: FastifyRequest, pathUser: string): string {
  const user = actingUser(request);
  if (user !== pathUser) throw createError({ code: 'FORBIDDEN', message: 'a picture can be changed only by its own user', details: { userId: pathUser } });
  return user;
}

/** The body, refused with PAYLOAD_TOO_LARGE once past PICTURE_MAX_BYTES (its rest then read and dropped). */
function readBounded(request: FastifyRequest, payload: IncomingMessage): Promise<Buffer> {
  const tooLarge = () => createError({ code: 'PAYLOAD_TOO_LARGE', message: `a picture is at most ${PICTURE_MAX_BYTES} bytes`, details: { maxBytes: PICTURE_MAX_BYTES } });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > PICTURE_MAX_BYTES) {
    drain(payload);
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.byteLength;
      if (length <= PICTURE_MAX_BYTES) {
        chunks.push(chunk);
        return;
      }
      payload.off('data', onData);
      payload.off('end', onEnd);
      chunks.length = 0;
      drain(payload);
      reject(tooLarge());
    };
    const onEnd = () => resolve(Buffer.concat(chunks, length));
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', reject);
  });
}

/** Reads and drops the rest of a refused body, up to a bound: closing with data unread would reset the connection before the answer is read. */
function drain(payload: IncomingMessage): void {
  let drained = 0;
  payload.on('data', (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > DRAIN_MAX_BYTES) payload.destroy();
  });
  payload.resume();
}
