// The ACL side of every Consul route: the request's token (X-Consul-Token, Authorization: Bearer or
// ?token=, as Consul reads them), its authorizer, Consul's 403s, and reads filtered to what it may see.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Acl, type Authorizer, type Resource } from '../acl/index.ts';
import { queryValue, sendText } from './consul-http.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What this request's token may do; set before every Consul route runs. */
    acl: Authorizer;
  }
}

/** The token a request carries, in Consul's order: the query, X-Consul-Token, then a bearer token. */
export function requestToken(request: FastifyRequest): string | undefined {
  const fromQuery = queryValue(request, 'token');
  if (fromQuery) return fromQuery;
  const header = request.headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return bearer?.[1];
}

/** Consul's answer to a refused request. */
export function sendDenied(reply: FastifyReply, message: string): FastifyReply {
  return sendText(reply, 403, message);
}

/** Answers 403 unless the request may `access` `name`; true when it may. */
export function authorize(request: FastifyRequest, reply: FastifyReply, resource: Resource, name: string, access: 'read' | 'write'): boolean {
  if (request.acl.allows(resource, name, access)) return true;
  sendDenied(reply, request.acl.denial(resource, name, access));
  return false;
}

/**
 * Keeps the items the request may read, as Consul filters list endpoints instead of refusing them,
 * and says so in X-Consul-Results-Filtered-By-ACLs when it left something out.
 */
export function filterReadable<T>(request: FastifyRequest, reply: FastifyReply, items: readonly T[], serviceOf: (item: T) => string, nodeName: string): T[] {
  const nodeVisible = request.acl.allows('node', nodeName, 'read');
  const kept = items.filter((item) => nodeVisible && request.acl.allows('service', serviceOf(item), 'read'));
  if (kept.length !== items.length) reply.header('X-Consul-Results-Filtered-By-ACLs', 'true');
  return kept;
}

/** The record form of filterReadable (maps keyed by id or name). */
export function filterReadableRecord<T>(request: FastifyRequest, reply: FastifyReply, record: Record<string, T>, serviceOf: (key: string, item: T) => string, nodeName: string): Record<string, T> {
  const kept = filterReadable(request, reply, Object.entries(record), ([key, item]) => serviceOf(key, item), nodeName);
  return Object.fromEntries(kept);
}

/**
 * Resolves every request's token before its route runs in `app`'s scope (an unknown token is
 * refused as Consul does), and serves GET /v1/acl/token/self.
 */
export function installAcl(app: FastifyInstance, acl: Acl): void {
  app.decorateRequest('acl', null as unknown as Authorizer);
  app.addHook('onRequest', async (request, reply) => {
    const authorizer = acl.resolve(requestToken(request));
    if (!authorizer) return sendDenied(reply, 'ACL not found');
    request.acl = authorizer;
  });

  app.get('/v1/acl/token/self', async (request, reply) => {
    if (!acl.enabled) return sendText(reply, 401, 'ACL support disabled');
    const { token } = request.acl;
    if (!token) return sendDenied(reply, 'ACL not found');
    return Acl.describe(token);
  });
}
