// The user a request acts for: named by the gateway inside its signed service credential (the kit
// verifies it before the route runs), never taken from a bare header anyone could set.
import type { FastifyRequest } from 'fastify';
import { actingUser as verifiedUser, createError, REASON } from '@notify/lib';
import { userId } from '../domain/schemas.ts';

export function actingUser(request: FastifyRequest): string {
  const parsed = userId.safeParse(verifiedUser(request));
  if (!parsed.success) throw createError({ code: 'UNAUTHENTICATED', message: 'the credential’s user is not a user id', details: { reason: REASON.BAD_USER } });
  return parsed.data;
}
