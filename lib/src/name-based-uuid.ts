// Name-based UUIDs (RFC 9562 version 8 over SHA-256): the same name always gives the same id, so
// separate processes agree on an id (a job's, an idempotent publication's) without asking anyone.
import { createHash } from 'node:crypto';

/** The UUID of `name`: the first 16 bytes of its SHA-256 with the version (8) and variant bits set. */
export function nameBasedUuid(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80; // version 8
  digest[8] = (digest[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
