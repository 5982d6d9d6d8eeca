// What makes a publish repeatable: the notification id a publisher's idempotency key stands for,
// and the fingerprint that tells a retry (same request) from a reuse of the key for another one.
// The id derives from the key, so every gateway computes the same one without asking anyone, and
// persist's primary key lets at most one notification ever hold it.
import { createHash } from 'node:crypto';
import { nameBasedUuid } from '@notify/lib';
import type { RpcParams } from '@notify/lib/rpc';

type PublishParams = RpcParams<'notifications.publish'>;

/** A name-based UUID of the publisher and their key. */
export function idempotentNotificationId(publisherId: string, key: string): string {
  return nameBasedUuid(`notify/publication\0${publisherId}\0${key}`);
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
