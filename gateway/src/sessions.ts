// Who a connection is: tokens resolved through auth and cached (keyv) for TOKEN_CACHE_TTL_MS,
// registration, login and logout forwarded to auth with the client's address (auth's per-client
// limits see the real client). A logout evicts the token from every gateway's cache.
// A resolve racing a logout never stores what it read before the logout (GuardedCache).
import { createHash } from 'node:crypto';
import { createError, hasErrorCode } from '@notify/lib';
import type { RpcParams, User } from '@notify/lib/rpc';
import type { Config } from './config.ts';
import type { Session } from './connections.ts';
import { GuardedCache } from './guarded-cache.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstreams } from './upstreams.ts';
import { avatarUrl } from './avatars.ts';

interface AuthUser {
  id: string;
  email: string;
  name: string;
}

interface CachedSession {
  user: User;
  expiresAt: number;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Sessions {
  private readonly cache: GuardedCache<CachedSession>;

  constructor(
    private readonly upstreams: Pick<Upstreams, 'auth'>,
    private readonly config: Readonly<Config>,
    private readonly metrics: GatewayMetrics,
  ) {
    this.cache = new GuardedCache('token', { ttlMs: config.TOKEN_CACHE_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES });
  }

  /** The session of a token; UNAUTHENTICATED when auth does not know it (unknown, expired, logged out). */
  async resolve(token: string): Promise<Session> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) {
      throw createError({ code: 'UNAUTHENTICATED', message: 'the token is malformed' });
    }
    const tokenHash = hashToken(token);
    const cached = await this.cache.get(tokenHash);
    if (cached && cached.expiresAt > Date.now()) {
      this.metrics.cache.inc({ cache: 'token', result: 'hit' });
      return { token, tokenHash, user: cached.user };
    }
    this.metrics.cache.inc({ cache: 'token', result: 'miss' });
    const seen = this.cache.stamp();
    const answer = await this.upstreams.auth.currentSession({}, { headers: { authorization: `Bearer ${token}` } });
    const session = { token, tokenHash, user: this.publicUser(answer.user) };
    await this.remember(session, Date.parse(answer.expiresAt), seen);
    return session;
  }

  async register(params: RpcParams<'users.register'>, clientAddress: string): Promise<Session> {
    return this.open((headers) => this.upstreams.auth.register({ body: params }, { headers }), clientAddress);
  }

  async login(params: RpcParams<'users.login'>, clientAddress: string): Promise<Session> {
    return this.open((headers) => this.upstreams.auth.login({ body: params }, { headers }), clientAddress);
  }

  /** Revokes the session at auth. A token auth no longer knows counts as logged out already. */
  async logout(session: Session): Promise<void> {
    try {
      await this.upstreams.auth.endSession({}, { headers: { authorization: `Bearer ${session.token}` } });
    } catch (error) {
      if (!(hasErrorCode(error) && error.code === 'UNAUTHENTICATED')) throw error;
    }
  }

  /** Forgets a token (a logout here or on another gateway). */
  async evict(tokenHash: string): Promise<void> {
    await this.cache.evict(tokenHash);
  }

  /** The user as clients see them; the avatar URL without its version (answers add it: AvatarVersions). */
  publicUser(user: AuthUser): User {
    return { id: user.id, email: user.email, name: user.name, avatarUrl: avatarUrl(this.config.AVATAR_BASE_PATH, user.id) };
  }

  /** Registration or login at auth (never retried: either may have happened), then cached. */
  private async open(grant: (headers: Record<string, string>) => Promise<{ user: AuthUser; token: string; expiresAt: string }>, clientAddress: string): Promise<Session> {
    const answer = await grant({ 'x-forwarded-for': clientAddress });
    const session = { token: answer.token, tokenHash: hashToken(answer.token), user: this.publicUser(answer.user) };
    await this.remember(session, Date.parse(answer.expiresAt), this.cache.stamp());
    return session;
  }

  /** Cached no longer than the session lives. */
  private async remember(session: Session, expiresAt: number, stamp: number): Promise<void> {
    await this.cache.store(session.tokenHash, { user: session.user, expiresAt }, stamp, expiresAt - Date.now());
  }
}
