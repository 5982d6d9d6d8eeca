// /api/users: register, read a user by id, change one's own profile.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import type { Accounts } from '../accounts.ts';
import { profileBody, registerBody, userIdParams } from '../domain/schemas.ts';
import { bearerToken } from './bearer.ts';

export async function userRoutes(app: FastifyInstance, { accounts }: { accounts: Accounts }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.post('/api/users', { schema: { body: registerBody } }, async (request, reply) => {
    // request.ip: the client named by a trusted proxy (TRUST_PROXY), else the peer.
    const grant = await accounts.register(request.body, request.ip);
    reply.code(201);
    return grant;
  });

  typed.get('/api/users/:id', { schema: { params: userIdParams }, config: { callers: ['gateway', 'mailer'] } }, async (request) => accounts.userById(request.params.id));

  typed.patch('/api/users/me', { schema: { body: profileBody } }, async (request) => accounts.rename(bearerToken(request), request.body.name));
}
