// /api/users: register, read a user by id, change one's own profile.
import type { FastifyInstance } from 'fastify';
import { serveRoute } from '@notify/lib';
import { authContract } from '@notify/lib/contracts';
import type { Accounts } from '../accounts.ts';
import { bearerToken } from './bearer.ts';

const { register, getUser, rename } = authContract.routes;

export async function userRoutes(app: FastifyInstance, { accounts }: { accounts: Accounts }): Promise<void> {
  serveRoute(app, register, {}, async (request, reply) => {
    // request.ip: the client named by a trusted proxy (TRUST_PROXY), else the peer.
    const grant = await accounts.register(request.body, request.ip);
    reply.code(201);
    return grant;
  });

  serveRoute(app, getUser, { config: { callers: ['gateway', 'mailer'] } }, async (request) => accounts.userById(request.params.id));

  serveRoute(app, rename, {}, async (request) => accounts.rename(bearerToken(request), request.body.name));
}
