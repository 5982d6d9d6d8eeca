// GET /avatars/:seed.png?size=N&style=S: a PNG avatar, the same bytes for the same URL for ever,
// so it is cacheable by anyone for a year; If-None-Match with its ETag gets 304 and no body.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import { avatarContract } from '@notify/lib/contracts';
import { avatarParams, avatarQuery, DEFAULT_SIZE } from '../domain/avatar-request.ts';
import { matchesIfNoneMatch } from '../domain/conditional.ts';
import type { AvatarRenderer } from '../render/avatar-renderer.ts';
import { resolveStyle, type StyleName } from '../styles/resolve.ts';

/** A year, the longest HTTP caches honour; `immutable`: browsers need not even revalidate on reload. */
export const AVATAR_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export interface AvatarRoutesOptions {
  renderer: AvatarRenderer;
  defaultStyle: StyleName;
}

export async function avatarRoutes(app: FastifyInstance, { renderer, defaultStyle }: AvatarRoutesOptions): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get(avatarContract.routes.render.path, { schema: { params: avatarParams, querystring: avatarQuery } }, async (request, reply) => {
    const style = resolveStyle(request.query.style ?? defaultStyle);
    const avatar = await renderer.avatar(style, request.query.size ?? DEFAULT_SIZE, request.params.seed);
    reply.header('etag', avatar.etag).header('cache-control', AVATAR_CACHE_CONTROL);
    if (matchesIfNoneMatch(request.headers['if-none-match'], avatar.etag)) return reply.code(304).send();
    return reply.type('image/png').send(avatar.png);
  });
}
