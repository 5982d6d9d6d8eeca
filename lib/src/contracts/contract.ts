// How a service's API is written down once and used by both sides: each route's method, path,
// params, query, body and answer as zod schemas (the service validates requests with them), each
// two-phase-commit action's payload (the participant validates it; the coordinator's caller
// compiles against it), and a typed client built from the routes. Browser-safe: zod only.
import type { z } from 'zod';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContract {
  method: HttpMethod;
  /** fastify's form: `/api/topics/:id`; each `:name` is filled from `params`. */
  path: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The answer's shape (types only on the caller's side: the answer is not parsed again). */
  response: z.ZodType;
  /** Safe to send again, to another instance, when the first attempt's fate is unknown. */
  idempotent: boolean;
}

/** A two-phase-commit action of one participant: its name on the wire and its payload. */
export interface ActionContract<S extends string = string, A extends string = string, P extends z.ZodType = z.ZodType> {
  service: S;
  action: A;
  payload: P;
}

export interface ServiceContract<S extends string = string, R extends Record<string, RouteContract> = Record<string, RouteContract>> {
  service: S;
  routes: R;
}

export const defineRoute = <const R extends RouteContract>(route: R): R => route;
export const defineContract = <const S extends string, const R extends Record<string, RouteContract>>(service: S, routes: R): ServiceContract<S, R> => ({ service, routes });
export const defineParticipantAction = <const S extends string, const A extends string, P extends z.ZodType>(service: S, action: A, payload: P): ActionContract<S, A, P> => ({
  service,
  action,
  payload,
});

/** An action's payload as its caller builds it. */
export type PayloadOf<A extends ActionContract> = z.input<A['payload']>;

type Part<Name extends string, T> = T extends z.ZodType ? (undefined extends z.input<T> ? { [K in Name]?: z.input<T> } : { [K in Name]: z.input<T> }) : { [K in Name]?: never };
/** What a caller passes: the route's params, query and body, each where the route has one. */
export type RouteInput<R extends RouteContract> = Part<'params', R['params']> & Part<'query', R['query']> & Part<'body', R['body']>;
/** What a route answers. */
export type RouteOutput<R extends RouteContract> = z.output<R['response']>;

/** A call as the transport sends it (the kit's UpstreamClient takes this shape). */
export interface ContractRequest {
  method: HttpMethod;
  path: string;
  /** The route's path template (`/api/topics/:id`), naming the call's span. */
  route?: string;
  body?: unknown;
  idempotent: boolean;
  headers?: Record<string, string>;
  /** The user the call acts for, named inside the caller's signed credential. */
  user?: string;
}

export interface CallOptions {
  /** The user the call acts for. */
  user?: string;
  headers?: Record<string, string>;
}

export type Send = (request: ContractRequest) => Promise<unknown>;

export type ServiceClient<R extends Record<string, RouteContract>> = {
  [K in keyof R]: (input: RouteInput<R[K]>, options?: CallOptions) => Promise<RouteOutput<R[K]>>;
};

/** A typed client of a service: one method per route, each sending through `send`. */
export function serviceClient<R extends Record<string, RouteContract>>(contract: ServiceContract<string, R>, send: Send): ServiceClient<R> {
  const client: Partial<Record<keyof R, unknown>> = {};
  for (const [name, route] of Object.entries(contract.routes) as [keyof R, RouteContract][]) {
    client[name] = async (input: { params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown }, options: CallOptions = {}) =>
      send({
        method: route.method,
        path: requestPath(route.path, input.params, input.query),
        route: route.path,
        ...(input.body !== undefined ? { body: input.body } : {}),
        idempotent: route.idempotent,
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.user !== undefined ? { user: options.user } : {}),
      });
  }
  return client as ServiceClient<R>;
}

/** The route's path with each `:name` filled (encoded) and the query's set keys appended. */
export function requestPath(template: string, params: Record<string, unknown> = {}, query?: Record<string, unknown>): string {
  const path = template.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) throw new TypeError(`${template} needs the path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  if (!query) return path;
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null) search.set(key, String(value));
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}
