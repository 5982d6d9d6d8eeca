// Serving a route of a service's contract: its method, path and request schemas come from the
// contract (so the service validates exactly what its callers compile against), and the handler
// must answer the contract's shape, so a change on either side fails the build.
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { RouteContract } from '../contracts/contract.ts';

type Parsed<T> = T extends z.ZodType ? z.output<T> : unknown;

export type ContractRequest<R extends RouteContract> = FastifyRequest<{ Params: Parsed<R['params']>; Querystring: Parsed<R['query']>; Body: Parsed<R['body']> }>;
/** A handler answers the route's shape, or sends its own reply (a status without a body, bytes). */
export type ContractHandler<R extends RouteContract> = (request: ContractRequest<R>, reply: FastifyReply) => Promise<z.input<R['response']> | FastifyReply>;

export function serveRoute<R extends RouteContract>(app: FastifyInstance, route: R, options: { config?: FastifyContextConfig }, handler: ContractHandler<R>): void {
  app.route({
    method: route.method,
    url: route.path,
    schema: {
      ...(route.params ? { params: route.params } : {}),
      ...(route.query ? { querystring: route.query } : {}),
      ...(route.body ? { body: route.body } : {}),
    },
    ...(options.config ? { config: options.config } : {}),
    // fastify types a handler from its own generics; the contract's types were checked above.
    handler: handler as unknown as (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  });
}
