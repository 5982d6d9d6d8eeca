// Accounts: registration, login, session resolution, logout and profile changes, with the rules
// that tie the stores, the password hasher, the rate limit, the cache and its replication together.
import { createError } from '@notify/lib';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthCache } from './cache/auth-cache.ts';
import type { Replicator } from './cache/replication.ts';
import type { PasswordHasher} from './domain/credentials.ts';
import { hashToken, newSessionToken, normaliseEmail, SESSION_TOKEN_PATTERN } from './domain/credentials.ts';
import { publicUser, type PublicUser, type RegisterBody } from './domain/schemas.ts';
import type { AuthHooks } from './hooks.ts';
import type { AuthMetrics } from './metrics.ts';
import { isUniqueViolation } from './store/database.ts';
import type { LoginThrottleStore } from './store/login-throttle.ts';
import type { SessionStore } from './store/sessions.ts';
import type { UserStore } from './store/users.ts';

export interface SessionGrant {
  user: PublicUser;
  token: string;
  expiresAt: string;
}

export interface AccountsOptions {
  users: UserStore;
  sessions: SessionStore;
  throttle: LoginThrottleStore;
  hasher: PasswordHasher;
  cache: AuthCache;
  replicator: Replicator;
  hooks: AuthHooks;
  metrics: AuthMetrics;
  log: FastifyBaseLogger;
  sessionTtlMs: number;
  maxFailures: number;
}

/** One message for every login failure, so a caller cannot tell a wrong password from an unknown email. */
const BAD_CREDENTIALS = 'email or password is wrong';

export class Accounts {
  constructor(private readonly o: AccountsOptions) {}

  async register(input: RegisterBody): Promise<SessionGrant> {
    const email = normaliseEmail(input.email);
    const passwordHash = await this.o.hasher.hash(input.password);
    let user;
    try {
      user = await this.o.users.create({ email, name: input.name, passwordHash });
    } catch (error) {
      if (isUniqueViolation(error)) throw createError({ code: 'CONFLICT', message: 'a user with this email exists', details: { field: 'email' } });
      throw error;
    }
    this.o.metrics.registrations.inc();
    const grant = await this.grant(publicUser(user));
    try {
      await this.o.hooks.userRegistered(grant.user);
    } catch (error) {
      this.o.log.error({ err: error, userId: user.id }, 'userRegistered hook failed');
    }
    return grant;
  }

  /** Logs in; failures count per email and per client, and past the limit the answer is 429 for both. */
  async login(input: { email: string; password: string }, client: string): Promise<SessionGrant> {
    const email = normaliseEmail(input.email);
    const keys = [`email:${email}`, `client:${client}`];
    const counts = await Promise.all(keys.map((key) => this.o.throttle.current(key)));
    const blocked = counts.filter((count) => count.failures >= this.o.maxFailures);
    if (blocked.length) {
      this.o.metrics.logins.inc({ result: 'rate_limited' });
      const retryAfterSeconds = Math.max(1, Math.ceil((Math.max(...blocked.map((count) => count.resetsAt)) - Date.now()) / 1000));
      throw createError({ code: 'RATE_LIMITED', message: 'too many failed logins; try again later', details: { retryAfterSeconds } });
    }
    const user = await this.o.users.byEmail(email);
    if (!(await this.o.hasher.verify(user?.passwordHash, input.password)) || !user) {
      this.o.metrics.logins.inc({ result: 'failure' });
      await Promise.all(keys.map((key) => this.o.throttle.fail(key)));
      throw createError({ code: 'UNAUTHENTICATED', message: BAD_CREDENTIALS });
    }
    await this.o.throttle.clear(keys[0]!);
    this.o.metrics.logins.inc({ result: 'success' });
    return this.grant(publicUser(user));
  }

  /** The user behind a bearer token; UNAUTHENTICATED when the token is malformed, unknown, expired or revoked. */
  async resolve(token: string | undefined): Promise<{ user: PublicUser; expiresAt: string }> {
    const tokenHash = this.tokenHash(token);
    const session = await this.o.cache.session(tokenHash, () => this.o.sessions.live(tokenHash));
    if (!session) throw createError({ code: 'UNAUTHENTICATED', message: 'session is not valid' });
    const user = await this.userById(session.userId);
    return { user, expiresAt: new Date(session.expiresAt).toISOString() };
  }

  /** Revokes the session on every auth node before answering. */
  async logout(token: string | undefined): Promise<void> {
    const tokenHash = this.tokenHash(token);
    const revoked = await this.o.sessions.revoke(tokenHash);
    // Invalidate even when nothing was revoked: a peer may still hold the entry of a session
    // another node revoked a moment ago.
    await this.o.replicator.publish([{ cache: 'session', key: tokenHash }]);
    if (!revoked) throw createError({ code: 'UNAUTHENTICATED', message: 'session is not valid' });
  }

  async rename(token: string | undefined, name: string): Promise<PublicUser> {
    const { user } = await this.resolve(token);
    const updated = publicUser(await this.o.users.rename(user.id, name));
    await this.o.replicator.publish([{ cache: 'user', key: user.id }]);
    return updated;
  }

  async userById(id: string): Promise<PublicUser> {
    const user = await this.o.cache.user(id, async () => {
      const row = await this.o.users.byId(id);
      return row ? publicUser(row) : null;
    });
    if (!user) throw createError({ code: 'NOT_FOUND', message: 'no such user', details: { id } });
    return user;
  }

  private async grant(user: PublicUser): Promise<SessionGrant> {
    const token = newSessionToken();
    const session = await this.o.sessions.create(user.id, hashToken(token), this.o.sessionTtlMs);
    return { user, token, expiresAt: new Date(session.expiresAt).toISOString() };
  }

  private tokenHash(token: string | undefined): string {
    if (!token || !SESSION_TOKEN_PATTERN.test(token)) throw createError({ code: 'UNAUTHENTICATED', message: 'a bearer token is required' });
    return hashToken(token);
  }
}
