// What an avatar is drawn from: an avatar seed's allowed form, and the SHA-256 every style reads its bits from.
import { createHash } from 'node:crypto';

/** Longest seed accepted: room for a SHA-512 hex digest (128) and any user id or email of the system. */
export const SEED_MAX_LENGTH = 128;

/**
 * Seeds are user ids, emails or hashes of them: 1-128 of A-Z a-z 0-9 and `. _ @ + -`, case-sensitive.
 * Nothing that needs escaping in a URL path, so a seed and its URL are one-to-one.
 */
export const SEED_PATTERN = /^[A-Za-z0-9._@+-]{1,128}$/;

export const SEED_RULE = `seed must be 1-${SEED_MAX_LENGTH} characters of A-Z a-z 0-9 . _ @ + -`;

/** The 32 bytes a style draws from: the same seed gives the same bytes on every instance and version. */
export function hashSeed(seed: string): Buffer {
  return createHash('sha256').update(seed, 'utf8').digest();
}
