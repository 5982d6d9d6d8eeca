// The user a request acts for: X-User-Id, set by the gateway after it authenticated the connection.
// persist is internal; it trusts the gateway the way the gateway trusts auth.
import type { FastifyRequest } from 'fastify';
import { createError } from '@notify/lib';
import { userId } from '../domain/schemas.ts';

export function actingUser(request: FastifyRequest): string {
  const header = request.headers['x-user-id'];
  const parsed = userId.safeParse(Array.isArray(header) ? header[0] : header);
  if (!parsed.success) throw createError({ code: 'UNAUTHENTICATED', message: 'X-User-Id is required', details: { header: 'x-user-id' } });
  return parsed.data;
}
