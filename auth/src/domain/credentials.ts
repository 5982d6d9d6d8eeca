// Credentials: email normalisation, argon2id password hashing, and opaque session tokens.
import { createHash, randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';

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
