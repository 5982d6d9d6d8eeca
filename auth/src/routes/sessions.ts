// /api/sessions: log in, resolve the current token, log out.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from '@notify/lib';
import type { Accounts } from '../accounts.ts';
import { loginBody } from '../domain/schemas.ts';
import { bearerToken } from './bearer.ts';

export async function sessionRoutes(app: FastifyInstance, { accounts }: { accounts: Accounts }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  // request.ip is the client named in X-Forwarded-For by a proxy TRUST_PROXY trusts (the gateway),
  // else the peer: with the default (no proxy trusted) a caller cannot pick its own client address.
  typed.post('/api/sessions', { schema: { body: loginBody } }, async (request) => accounts.login(request.body, request.ip));

  typed.get('/api/sessions/current', async (request) => accounts.resolve(bearerToken(request)));

  typed.delete('/api/sessions/current', async (request) => {
    await accounts.logout(bearerToken(request));
    return { ok: true };
  });
}
