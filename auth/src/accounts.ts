// Accounts: registration, login, session resolution, logout and profile changes, with the rules
// that tie the stores, the password hasher, the rate limits, the cache and its replication together.
import { createError } from '@notify/lib';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthCache } from './cache/auth-cache.ts';
import type { Replicator } from './cache/replication.ts';
import type { PasswordHasher } from './domain/credentials.ts';
import { hashToken, newSessionToken, normaliseEmail, SESSION_TOKEN_PATTERN } from './domain/credentials.ts';
import { publicUser, type PublicUser, type RegisterBody } from './domain/schemas.ts';
import type { AuthHooks } from './hooks.ts';
import type { AuthMetrics } from './metrics.ts';
import { isUniqueViolation } from '@notify/lib/db';
import type { CountedAttempt, LoginThrottleStore } from './store/login-throttle.ts';
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
  /** Failed logins per email and per client in a window before 429. */
  maxFailures: number;
  /** Registrations per client in a window before 429. */
  maxRegistrationsPerClient: number;
  /** Write a welcome-email outbox row with each registration (relayed to the mailer). */
  welcomeEmails: boolean;
  /** Longest the userRegistered hook may run before it is logged as failed. Default 10 s. */
  hookTimeoutMs?: number;
}

/** One message for every login failure, so a caller cannot tell a wrong password from an unknown email. */
const BAD_CREDENTIALS = 'email or password is wrong';
const DEFAULT_HOOK_TIMEOUT_MS = 10_000;

export class Accounts {
  constructor(private readonly o: AccountsOptions) {}

  /**
   * Registers a user and logs them in: user and session are written in one transaction. Counted per
   * client before the password is hashed; past REGISTER_MAX_PER_CLIENT in the window the answer is 429.
   * The userRegistered hook runs after the answer is decided, never delaying or failing it.
   */
  async register(input: RegisterBody, client: string): Promise<SessionGrant> {
    await this.admit([`register:${client}`], this.o.maxRegistrationsPerClient, 'too many registrations from this client; try again later');
    const email = normaliseEmail(input.email);
    const passwordHash = await this.o.hasher.hash(input.password);
    const token = newSessionToken();
    let created;
    try {
      created = await this.o.users.createWithSession({ email, name: input.name, passwordHash }, { tokenHash: hashToken(token), ttlMs: this.o.sessionTtlMs }, { welcomeEmail: this.o.welcomeEmails });
    } catch (error) {
      if (isUniqueViolation(error)) throw createError({ code: 'CONFLICT', message: 'a user with this email exists', details: { field: 'email' } });
      throw error;
    }
    this.o.metrics.registrations.inc();
    const user = publicUser(created.user);
    this.runUserRegistered(user);
    return { user, token, expiresAt: new Date(created.session.expiresAt).toISOString() };
  }

  /**
   * Logs in. The attempt is counted per client, per email and per (email, client) BEFORE the password
   * is checked, in one atomic statement, so parallel guesses on any number of nodes get at most
   * LOGIN_MAX_FAILURES checks per window from one client, or for one email from one client. An email
   * past LOGIN_MAX_FAILURES (guessed at from many addresses) refuses every client that has failed on
   * it, but not one that has not: a guesser spread over many addresses cannot lock the owner out,
   * and each of its addresses gets one guess. Past a limit the answer is 429 without a check. A
   * success takes its attempt back: this client's failures on the email are cleared, the email's and
   * the client's counts lose this attempt.
   */
  async login(input: { email: string; password: string }, client: string): Promise<SessionGrant> {
    const email = normaliseEmail(input.email);
    const emailKey = `email:${email}`;
    const pairKey = `email-client:${client} ${email}`;
    const attempts = await this.admit(
      [emailKey, `client:${client}`, pairKey],
      this.o.maxFailures,
      'too many failed logins; try again later',
      () => this.o.metrics.logins.inc({ result: 'rate_limited' }),
      // The email's count blocks only a client that has failed on it before (counts include this
      // attempt, so the pair's count - 1 is those failures); every other count blocks past the limit.
      (attempt, counts) =>
        attempt.key === emailKey ? attempt.count > this.o.maxFailures && (counts.get(pairKey) ?? 0) > 1 : attempt.count > this.o.maxFailures,
    );
    const user = await this.o.users.byEmail(email);
    if (!(await this.o.hasher.verify(user?.passwordHash, input.password)) || !user) {
      this.o.metrics.logins.inc({ result: 'failure' });
      // The attempt stays counted: it was a failure.
      throw createError({ code: 'UNAUTHENTICATED', message: BAD_CREDENTIALS });
    }
    // This client's failures on the email are forgiven; the email's count (other clients' guesses) only loses this attempt.
    await Promise.all([this.o.throttle.clear(pairKey), this.o.throttle.undo(attempts.filter((attempt) => attempt.key !== pairKey))]);
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

  /**
   * Revokes a live session in the database (the truth for every node), then drops it from this
   * node's cache and from the caches of the other nodes that acknowledge within the timeout.
   * An unknown, expired or already revoked token is 401 and publishes nothing.
   */
  async logout(token: string | undefined): Promise<void> {
    const tokenHash = this.tokenHash(token);
    if (!(await this.o.sessions.revoke(tokenHash))) throw createError({ code: 'UNAUTHENTICATED', message: 'session is not valid' });
    await this.o.replicator.publish([{ cache: 'session', key: tokenHash }]);
  }

  /** Changes one's name; the token is checked against the database, never a cache, as every write's is. */
  async rename(token: string | undefined, name: string): Promise<PublicUser> {
    const tokenHash = this.tokenHash(token);
    const session = await this.o.sessions.live(tokenHash);
    if (!session) throw createError({ code: 'UNAUTHENTICATED', message: 'session is not valid' });
    const updated = publicUser(await this.o.users.rename(session.userId, name));
    await this.o.replicator.publish([{ cache: 'user', key: session.userId }]);
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

  /**
   * Counts one attempt on each key; when any attempt `blocks` (by default: its key is past `max`),
   * takes the attempt back (a refused attempt costs nothing) and refuses with 429 and the seconds
   * until the latest blocking window ends.
   */
  private async admit(
    keys: string[],
    max: number,
    message: string,
    onRefused?: () => void,
    /** Whether one counted attempt blocks, given every key's count (this attempt included). */
    blocks: (attempt: CountedAttempt, counts: ReadonlyMap<string, number>) => boolean = (attempt) => attempt.count > max,
  ): Promise<CountedAttempt[]> {
    const attempts = await this.o.throttle.attempt(keys);
    const counts = new Map(attempts.map((attempt) => [attempt.key, attempt.count]));
    const blocked = attempts.filter((attempt) => blocks(attempt, counts));
    if (blocked.length === 0) return attempts;
    await this.o.throttle.undo(attempts);
    onRefused?.();
    const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(...blocked.map((attempt) => attempt.secondsLeft))));
    throw createError({ code: 'RATE_LIMITED', message, details: { retryAfterSeconds } });
  }

  /** Runs the hook off the response path: bounded by a timeout, failures and time-outs logged. */
  private runUserRegistered(user: PublicUser): void {
    const timeoutMs = this.o.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`userRegistered hook did not finish within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    void Promise.race([Promise.resolve().then(() => this.o.hooks.userRegistered(user)), timeout])
      .catch((error: unknown) => this.o.log.error({ err: error, userId: user.id }, 'userRegistered hook failed'))
      .finally(() => clearTimeout(timer));
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
