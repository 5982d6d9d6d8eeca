// GET <AVATAR_BASE_PATH>/:file: the avatar service's PNGs (its /avatars/:file) through the gateway, so the avatarUrl users.me
// answers works from the client's origin. Round-robin and breakers as every upstream call; the
// caches' headers (ETag, Cache-Control) and conditional requests (304) pass through.
import type { FastifyInstance } from 'fastify';
import type { Upstreams } from './upstreams.ts';

/** Headers of the avatar's answer that the client needs. */
const PASSED_BACK = ['content-type', 'etag', 'cache-control', 'last-modified'];

export async function avatarProxy(app: FastifyInstance, { upstreams, basePath, timeoutMs }: { upstreams: Upstreams; basePath: string; timeoutMs: number }): Promise<void> {
  app.get(`${basePath.replace(/\/+$/, '')}/:file`, async (request, reply) => {
    const url = request.raw.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    const { file } = request.params as { file: string };
    const ifNoneMatch = request.headers['if-none-match'];
    const answer = await upstreams.client('avatar').request<Buffer>({
      method: 'GET',
      path: `/avatars/${encodeURIComponent(file)}${query}`,
      headers: ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {},
      deadlineMs: timeoutMs,
      idempotent: true,
      raw: true,
    });
    reply.code(answer.status);
    for (const name of PASSED_BACK) {
      const value = answer.headers?.[name];
      if (value !== undefined) reply.header(name, value);
    }
    return answer.status === 304 ? reply.send() : reply.send(answer.body);
  });
}
