// The bearer token of a request (Authorization: Bearer <token>), or undefined.
import type { FastifyRequest } from 'fastify';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer (\S+)$/i.exec(header.trim());
  return match?.[1];
}
