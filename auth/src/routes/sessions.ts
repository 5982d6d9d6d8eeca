// /api/sessions: log in, resolve the current token, log out.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import type { Accounts } from '../accounts.ts';
import { loginBody } from '../domain/schemas.ts';
import { bearerToken } from './bearer.ts';

export async function sessionRoutes(app: FastifyInstance, { accounts }: { accounts: Accounts }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  // request.ip is the client named by a trusted proxy's X-Forwarded-For (the gateway), else the peer.
  typed.post('/api/sessions', { schema: { body: loginBody } }, async (request) => accounts.login(request.body, request.ip));

  typed.get('/api/sessions/current', async (request) => accounts.resolve(bearerToken(request)));

  typed.delete('/api/sessions/current', async (request) => {
    await accounts.logout(bearerToken(request));
    return { ok: true };
  });
}
