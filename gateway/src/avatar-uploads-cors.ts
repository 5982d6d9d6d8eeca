// Cross-origin calls to `PUT`/`DELETE /api/v1/me/avatar`: the browser client is served from another
// origin than the gateway's (its own port), so it asks first (a CORS preflight, answered here with
// 204 before any route or authentication) and reads the answers, errors included, only when they
// allow its origin. Any origin is allowed: the only credential is the bearer token the page sends
// itself (no cookies), as with socket.io's handshake.
import type { FastifyInstance } from 'fastify';
import { OWN_AVATAR_PATH } from './avatar-uploads.ts';

const ALLOWED = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'PUT, DELETE',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-expose-headers': 'retry-after',
  'access-control-max-age': '600',
};

/** Hooks on the root app, so they run before the routes' own hooks (and for requests no route takes, such as OPTIONS). */
export function avatarUploadCors(app: FastifyInstance): void {
  // A callback hook: it runs on every request, and a callback costs no promise and no microtask.
  app.addHook('onRequest', (request, reply, done) => {
    if (!isOwnAvatarPath(request.raw.url ?? '')) return done();
    reply.headers(ALLOWED);
    // Answered here: the routes and their hooks never run for the preflight.
    if (request.method === 'OPTIONS') return void reply.code(204).send();
    done();
  });
}

/** The URL's path (without its query) is OWN_AVATAR_PATH; compared in place, nothing is allocated. */
function isOwnAvatarPath(url: string): boolean {
  return url.startsWith(OWN_AVATAR_PATH) && (url.length === OWN_AVATAR_PATH.length || url.charCodeAt(OWN_AVATAR_PATH.length) === 63 /* ? */);
}
