// Service identity: who is calling, proven. Every internal request carries a short-lived credential
// in X-Service-Token, signed with the deployment's SERVICE_SECRET (HMAC-SHA256), naming the calling
// service (iss), the service called (aud), its expiry (exp) and, when the call acts for a person, that
// user (sub). A service verifies it before reading the body and checks the route's allowed callers.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createError } from '../errors.ts';
import { REASON, type Reason } from '../reasons.ts';
import { BoundedMap } from '../cache/bounded-map.ts';

export const SERVICE_TOKEN_HEADER = 'x-service-token';
/** Shortest SERVICE_SECRET accepted: 32 characters (e.g. `openssl rand -base64 32`). */
export const SERVICE_SECRET_MIN_LENGTH = 32;
/** A credential lives this long; callers reuse one for half of it. */
export const SERVICE_TOKEN_TTL_MS = 5 * 60_000;
/** Clocks of two machines may disagree by this much. */
const CLOCK_SKEW_MS = 60_000;
/** Longer than anything we mint: a larger token is refused before any work. */
const MAX_TOKEN_LENGTH = 2_048;
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Signed input starts with this, so a signature made here means nothing anywhere else. */
const DOMAIN = 'notify-service-token-v1.';

/** A verified caller: the service that called and, when it acts for someone, the user. */
export interface Caller {
  service: string;
  user?: string;
}

interface Claims {
  iss: string;
  aud: string;
  sub?: string;
  iat: number;
  exp: number;
}

export class ServiceIdentity {
  private readonly minted = new BoundedMap<string, { token: string; renewAt: number }>(10_000);

  constructor(
    /** This service's name: the issuer of what it sends, the audience of what it accepts. */
    readonly name: string,
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {
    if (!NAME.test(name)) throw new Error(`service name ${JSON.stringify(name)} cannot be a credential's issuer`);
    if (secret.length < SERVICE_SECRET_MIN_LENGTH) throw new Error(`SERVICE_SECRET must have at least ${SERVICE_SECRET_MIN_LENGTH} characters`);
  }

  /** Headers that prove this service is calling `audience` (for `user`, when given). */
  headers(audience: string, user?: string): Record<string, string> {
    return { [SERVICE_TOKEN_HEADER]: this.token(audience, user) };
  }

  /** A credential for a call to `audience`, reused while it has more than half its life left. */
  token(audience: string, user?: string): string {
    const key = `${audience}\u0000${user ?? ''}`;
    const now = this.now();
    const cached = this.minted.get(key);
    if (cached && cached.renewAt > now) return cached.token;
    const claims: Claims = { iss: this.name, aud: audience, ...(user === undefined ? {} : { sub: user }), iat: now, exp: now + SERVICE_TOKEN_TTL_MS };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const token = `${payload}.${this.sign(payload)}`;
    this.minted.set(key, { token, renewAt: now + SERVICE_TOKEN_TTL_MS / 2 });
    return token;
  }

  /**
   * The caller a credential proves, if it was signed with this deployment's secret, is addressed
   * to this service and is within its life; UNAUTHENTICATED (401) otherwise, saying why.
   */
  verify(header: string | string[] | undefined): Caller {
    const token = Array.isArray(header) ? undefined : header;
    if (!token) throw refused(`a service credential (${SERVICE_TOKEN_HEADER}) is required`, REASON.CREDENTIAL_MISSING);
    const dot = token.indexOf('.');
    if (token.length > MAX_TOKEN_LENGTH || dot <= 0) throw refused('the service credential is malformed', REASON.CREDENTIAL_MALFORMED);
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused('the service credential is not signed with this deployment’s secret', REASON.BAD_SIGNATURE);
    const claims = parseClaims(payload);
    if (!claims) throw refused('the service credential is malformed', REASON.CREDENTIAL_MALFORMED);
    if (claims.aud !== this.name) throw refused(`the service credential is addressed to ${claims.aud}, not ${this.name}`, REASON.WRONG_AUDIENCE);
    const now = this.now();
    if (claims.exp <= now - CLOCK_SKEW_MS || claims.iat > now + CLOCK_SKEW_MS || claims.exp - claims.iat > 2 * SERVICE_TOKEN_TTL_MS) {
      throw refused('the service credential has expired', REASON.CREDENTIAL_EXPIRED);
    }
    return claims.sub === undefined ? { service: claims.iss } : { service: claims.iss, user: claims.sub };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(DOMAIN).update(payload).digest('base64url');
  }
}

function parseClaims(payload: string): Claims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const claims = value as Record<string, unknown>;
  const { iss, aud, sub, iat, exp } = claims;
  if (typeof iss !== 'string' || !NAME.test(iss) || typeof aud !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
  if (sub !== undefined && (typeof sub !== 'string' || sub.length === 0 || sub.length > 200)) return undefined;
  return { iss, aud, iat, exp, ...(sub === undefined ? {} : { sub }) };
}

function refused(message: string, reason: Reason) {
  return createError({ code: 'UNAUTHENTICATED', message, details: { reason, header: SERVICE_TOKEN_HEADER } });
}
