// What makes a publish repeatable: the notification id a publisher's idempotency key stands for,
// and the fingerprint that tells a retry (same request) from a reuse of the key for another one.
// The id derives from the key, so every gateway computes the same one without asking anyone, and
// persist's primary key lets at most one notification ever hold it.
import { createHash } from 'node:crypto';
import type { RpcParams } from '@notify/lib/rpc';

type PublishParams = RpcParams<'notifications.publish'>;

/** A name-based UUID (RFC 9562 version 8, SHA-256) of the publisher and their key. */
export function idempotentNotificationId(publisherId: string, key: string): string {
  const digest = createHash('sha256').update(`notify/publication\0${publisherId}\0${key}`).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80; // version 8
  digest[8] = (digest[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * SHA-256 (hex) of the request as validated, without the key: keys sorted, `email` false when
 * left out, `to` in id order (the same people in another order is the same request).
 */
export function publishFingerprint(params: PublishParams): string {
  const { idempotencyKey: _key, ...request } = params;
  const normalised: Record<string, unknown> = { ...request, email: request.email ?? false, ...(request.to ? { to: [...request.to].sort() } : {}) };
  const canonical = JSON.stringify(Object.keys(normalised).sort().map((name) => [name, normalised[name] ?? null]));
  return createHash('sha256').update(canonical).digest('hex');
}
