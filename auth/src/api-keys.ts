// ApiKeys: a user's keys for services, created, listed and revoked with the owner's session, and
// verified for the gateway. Keys are never cached on any node: each verification reads the key by
// primary key, so a revocation refuses the key on every node at once.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createError, REASON } from '@notify/lib';
import type { z } from 'zod';
import type { apiKeyShape } from '@notify/lib/contracts';
import { API_KEY_PREFIX_LENGTH, apiKeyIdOf, hashToken, newApiKeySecret, sameHash, SESSION_TOKEN_PATTERN } from './domain/credentials.ts';
import { publicUser, type PublicUser } from './domain/schemas.ts';
import { LAST_USED_RESOLUTION_SECONDS, type ApiKeyRow, type ApiKeyStore } from './store/api-keys.ts';
import type { SessionStore } from './store/sessions.ts';

export type ApiKeyView = z.infer<typeof apiKeyShape>;

const REFUSED = 'the API key is not valid';

export class ApiKeys {
  constructor(
    private readonly o: {
      keys: ApiKeyStore;
      sessions: SessionStore;
      /** Keys one user may hold at once (not revoked). */
      maxPerUser: number;
      log: FastifyBaseLogger;
    },
  ) {}

  /** A new key for the session's user; its secret is answered here and never again. */
  async create(sessionToken: string | undefined, name: string): Promise<{ key: ApiKeyView; secret: string }> {
    const userId = await this.owner(sessionToken);
    const id = randomUUID();
    const secret = newApiKeySecret(id);
    const row = await this.o.keys.create({ id, userId, name, prefix: secret.slice(0, API_KEY_PREFIX_LENGTH), secretHash: hashToken(secret) }, this.o.maxPerUser);
    if (!row) {
      throw createError({
        code: 'CONFLICT',
        message: `a user holds at most ${this.o.maxPerUser} API keys; revoke one first`,
        details: { reason: REASON.API_KEYS_PER_USER, limit: this.o.maxPerUser },
      });
    }
    return { key: apiKeyView(row), secret };
  }

  async list(sessionToken: string | undefined): Promise<{ keys: ApiKeyView[] }> {
    const userId = await this.owner(sessionToken);
    return { keys: (await this.o.keys.listOf(userId)).map(apiKeyView) };
  }

  /** Revokes one of the session user's keys; NOT_FOUND for any other id, so no one learns of another's keys. */
  async revoke(sessionToken: string | undefined, id: string): Promise<void> {
    const userId = await this.owner(sessionToken);
    if (!(await this.o.keys.revoke(userId, id))) throw createError({ code: 'NOT_FOUND', message: 'no such API key', details: { keyId: id } });
  }

  /**
   * The owner of a presented key: UNAUTHENTICATED alike for a malformed, unknown, wrong or revoked
   * one. The hash is compared in constant time. A use is recorded off the answer's path, at most
   * once a minute per key (the store's rule).
   */
  async verify(secret: string | undefined): Promise<{ user: PublicUser; key: ApiKeyView }> {
    const id = apiKeyIdOf(secret);
    if (!id || secret === undefined) throw createError({ code: 'UNAUTHENTICATED', message: REFUSED });
    const row = await this.o.keys.byId(id);
    if (!row || !sameHash(row.secretHash, hashToken(secret)) || row.revokedAt) throw createError({ code: 'UNAUTHENTICATED', message: REFUSED });
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_SECONDS * 1000) {
      this.o.keys.touch(row.id).catch((error: unknown) => this.o.log.warn({ err: error, keyId: row.id }, 'recording an API key use failed'));
    }
    return { user: publicUser(row.user), key: apiKeyView(row) };
  }

  /** The user of a live session, read from the database (as every write's token is), never a cache. */
  private async owner(sessionToken: string | undefined): Promise<string> {
    if (!sessionToken || !SESSION_TOKEN_PATTERN.test(sessionToken)) throw createError({ code: 'UNAUTHENTICATED', message: 'a session token is required' });
    const session = await this.o.sessions.live(hashToken(sessionToken));
    if (!session) throw createError({ code: 'UNAUTHENTICATED', message: 'session is not valid' });
    return session.userId;
  }
}

export function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}
