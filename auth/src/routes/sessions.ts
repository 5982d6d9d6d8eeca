// /api/sessions: log in, resolve the current token, log out.
import type { FastifyInstance } from 'fastify';
import { serveRoute } from '@notify/lib';
import { authContract } from '@notify/lib/contracts';
import type { Accounts } from '../accounts.ts';
import { bearerToken } from './bearer.ts';

const { login, currentSession, endSession } = authContract.routes;

export async function sessionRoutes(app: FastifyInstance, { accounts }: { accounts: Accounts }): Promise<void> {
  // request.ip is the client named in X-Forwarded-For by a proxy TRUST_PROXY trusts (the gateway),
  // else the peer: with the default (no proxy trusted) a caller cannot pick its own client address.
  serveRoute(app, login, {}, async (request) => accounts.login(request.body, request.ip));

  serveRoute(app, currentSession, {}, async (request) => accounts.resolve(bearerToken(request)));

  serveRoute(app, endSession, {}, async (request) => {
    await accounts.logout(bearerToken(request));
    return { ok: true as const };
  });
}
