// A person's own picture: `PUT /api/v1/me/avatar` (the image's bytes as the body, any content type,
// at most PICTURE_MAX_BYTES) and `DELETE /api/v1/me/avatar`, with the user's session token (or one
// of their API keys) as the bearer token. The caller is verified and their rate checked before the
// body is read; a body past the limit is 413 and nothing is sent on. The avatar service stores the
// picture for the user the gateway's signed credential names (only the caller, never anyone else);
// then every gateway hears the new version over the push bus, so the URLs they hand out change.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BODY_TOO_LARGE_IS_413, createError, REASON } from '@notify/lib';
import { API_KEY_PATTERN, PICTURE_MAX_BYTES } from '@notify/lib/contracts';
import { avatarUrl, type AvatarVersions } from './avatars.ts';
import type { BusMessage } from './push/fanout.ts';
import type { KeyRateLimiter } from './rest/rate-limit.ts';
import { BEARER, clientErrorShape } from './rest/routes.ts';
import { REST_PREFIX } from './rest/operations.ts';
import type { Sessions } from './sessions.ts';
import type { Upstreams } from './upstreams.ts';

export const OWN_AVATAR_PATH = `${REST_PREFIX}/me/avatar`;

export interface AvatarUploadDependencies {
  upstreams: Pick<Upstreams, 'auth' | 'avatar'>;
  sessions: Pick<Sessions, 'resolve'>;
  avatars: Pick<AvatarVersions, 'set'>;
  publish: (message: BusMessage) => Promise<void>;
  /** Uploads and removals per user (AVATAR_UPLOADS_PER_MINUTE, AVATAR_UPLOAD_BURST). */
  limiter: KeyRateLimiter;
  basePath: string;
}

/** The user each request acts for, once verified. */
const callers = new WeakMap<FastifyRequest, string>();

export async function avatarUploadRoutes(app: FastifyInstance, d: AvatarUploadDependencies): Promise<void> {
  clientErrorShape(app);
  // Any content type is the image's bytes (its type is read from them by the avatar service).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PICTURE_MAX_BYTES }, (_request, body, done) => done(null, body));

  /** The bearer token's user: a session token (resolved as for connections) or an API key (verified by auth, uncached). */
  const userOf = async (request: FastifyRequest): Promise<string> => {
    const header = request.headers.authorization;
    const token = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    if (!token) throw createError({ code: 'UNAUTHENTICATED', message: 'a session token (or an API key) is required: Authorization: Bearer …' });
    if (API_KEY_PATTERN.test(token)) {
      const { user } = await d.upstreams.auth.verifyApiKey({}, { headers: { authorization: `Bearer ${token}` } });
      return user.id;
    }
    return (await d.sessions.resolve(token)).user.id;
  };

  // Before the body is read: a stranger, or a user past their rate, never sends 5 MiB for nothing.
  app.addHook('onRequest', async (request) => {
    const userId = await userOf(request);
    const waitSeconds = d.limiter.take(userId);
    if (waitSeconds > 0) {
      throw createError({
        code: 'RATE_LIMITED',
        message: 'too many picture changes; try again later',
        details: { reason: REASON.AVATAR_UPLOAD_RATE, retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)) },
      });
    }
    callers.set(request, userId);
  });

  /** The new version, here and on every gateway; the change is made, so a bus failure only delays the others. */
  const announce = async (request: FastifyRequest, userId: string, version: string) => {
    d.avatars.set(userId, version);
    await d.publish({ kind: 'avatar-changed', userId, version }).catch((error: unknown) => request.log.warn({ err: error, userId }, 'new avatar version not told to the other gateways'));
  };

  app.put(OWN_AVATAR_PATH, { bodyLimit: PICTURE_MAX_BYTES, config: { [BODY_TOO_LARGE_IS_413]: true } }, async (request) => {
    const userId = callers.get(request)!;
    const bytes = request.body;
    if (!Buffer.isBuffer(bytes) || bytes.byteLength === 0) {
      throw createError({ code: 'INVALID_ARGUMENT', message: 'the body must be the picture’s bytes (PNG, JPEG, WebP, AVIF or GIF)', details: { reason: REASON.UNSUPPORTED_IMAGE } });
    }
    const picture = await d.upstreams.avatar.putPicture({ params: { userId }, body: bytes }, { user: userId });
    await announce(request, userId, picture.version);
    return { avatarUrl: avatarUrl(d.basePath, userId, picture.version), version: picture.version, width: picture.width, height: picture.height };
  });

  app.delete(OWN_AVATAR_PATH, { config: { [BODY_TOO_LARGE_IS_413]: true } }, async (request) => {
    const userId = callers.get(request)!;
    const { version } = await d.upstreams.avatar.deletePicture({ params: { userId } }, { user: userId });
    await announce(request, userId, version);
    return { avatarUrl: avatarUrl(d.basePath, userId, version), version };
  });
}
