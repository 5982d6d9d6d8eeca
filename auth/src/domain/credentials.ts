// Credentials: email normalisation, argon2id password hashing, opaque session tokens and API key secrets.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { API_KEY_PATTERN } from '@notify/lib/contracts';

/** Algorithm.Argon2id; the package's enum is `const`, which verbatimModuleSyntax cannot import. */
const ARGON2ID = 2 as Algorithm;

export interface PasswordPolicy {
  memoryKib: number;
  iterations: number;
}

/** Emails compare trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class PasswordHasher {
  /** A hash of a random password, verified against when the email is unknown so both cases take as long. */
  private readonly decoy: Promise<string>;

  constructor(private readonly policy: PasswordPolicy) {
    this.decoy = this.hash(randomBytes(24).toString('base64url'));
  }

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.policy.memoryKib,
      timeCost: this.policy.iterations,
      parallelism: 1,
    });
  }

  /** True when `password` matches `stored`; with no stored hash it burns the same time and fails. */
  async verify(stored: string | undefined, password: string): Promise<boolean> {
    if (stored === undefined) {
      await verify(await this.decoy, password);
      return false;
    }
    return verify(stored, password);
  }
}

/** 32 random bytes (256 bits), base64url: 43 characters. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export const SESSION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** What the database keeps of a token: its SHA-256, hex. A leaked table gives no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Characters of the secret shown in lists (`nk_` and the first 8 hex digits of the id): enough to recognise it, nothing secret. */
export const API_KEY_PREFIX_LENGTH = 11;

/**
 * An API key's secret: `nk_<id>_<random>`, the key's id (a uuid without dashes, 32 hex) so the key
 * is found by primary key, and 32 random bytes (256 bits, base64url, 43 characters) that make it
 * unguessable. Only its SHA-256 is stored.
 */
export function newApiKeySecret(id: string): string {
  return `nk_${id.replaceAll('-', '')}_${randomBytes(32).toString('base64url')}`;
}

/** The key id a secret names (a uuid), or undefined when it is not shaped like one of ours. */
export function apiKeyIdOf(secret: string | undefined): string | undefined {
  const hex = secret === undefined ? undefined : API_KEY_PATTERN.exec(secret)?.[1];
  return hex && `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Whether two hex hashes are equal, in time that does not depend on where they differ. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
