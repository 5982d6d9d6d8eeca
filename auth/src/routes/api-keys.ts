// /api/api-keys: a user's API keys, created, listed and revoked with their session token, and the
// gateway's verification of a presented key (the key as the bearer token).
import type { FastifyInstance } from 'fastify';
import { serveRoute } from '@notify/lib';
import { authContract } from '@notify/lib/contracts';
import type { ApiKeys } from '../api-keys.ts';
import { bearerToken } from './bearer.ts';

const { createApiKey, listApiKeys, revokeApiKey, verifyApiKey } = authContract.routes;

export async function apiKeyRoutes(app: FastifyInstance, { apiKeys }: { apiKeys: ApiKeys }): Promise<void> {
  serveRoute(app, createApiKey, {}, async (request, reply) => {
    const created = await apiKeys.create(bearerToken(request), request.body.name);
    reply.code(201);
    return created;
  });

  serveRoute(app, listApiKeys, {}, async (request) => apiKeys.list(bearerToken(request)));

  serveRoute(app, revokeApiKey, {}, async (request) => {
    await apiKeys.revoke(bearerToken(request), request.params.id);
    return { ok: true as const };
  });

  serveRoute(app, verifyApiKey, {}, async (request) => apiKeys.verify(bearerToken(request)));
}
