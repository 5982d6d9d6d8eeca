// GET /avatars/:userId?size=&format=&fit=&grayscale=&blur=&v=: a variant of the user's current
// avatar (uploaded picture, else generated). `v` naming the current version: immutable for a year;
// no `v` or an older one: the current avatar, `no-cache` (revalidated with its strong ETag, 304).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import { matchesIfNoneMatch } from '../domain/conditional.ts';
import { VARIANT_CONTENT_TYPES, variantParams, variantQuery, variantSpec } from '../domain/variant-request.ts';
import type { VariantRenderer } from '../render/variant-renderer.ts';
import { AVATAR_CACHE_CONTROL } from './avatars.ts';

/** The current avatar, whatever its version: caches must ask again (cheaply: 304) before reusing it. */
export const CURRENT_AVATAR_CACHE_CONTROL = 'no-cache';

export async function variantRoutes(app: FastifyInstance, { variants }: { variants: VariantRenderer }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get('/avatars/:userId', { schema: { params: variantParams, querystring: variantQuery } }, async (request, reply) => {
    const { userId } = request.params;
    const spec = variantSpec(request.query);
    const { version, side } = await variants.current(userId);
    const etag = variants.etag(userId, version, spec);
    reply
      .header('etag', etag)
      .header('cache-control', request.query.v === version ? AVATAR_CACHE_CONTROL : CURRENT_AVATAR_CACHE_CONTROL)
      .header('x-avatar-version', version);
    // The ETag is known before rendering: a revalidation costs no render.
    if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
    const variant = await variants.variant(userId, version, spec, { side });
    return reply.type(VARIANT_CONTENT_TYPES[spec.format]).send(variant.png);
  });
}
