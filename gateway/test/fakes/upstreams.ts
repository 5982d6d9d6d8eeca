// Fake upstream services for in-process gateway tests, made from the real contracts in the kit: the
// gateway's typed clients send into an in-memory router instead of the network. Each call is
// matched by method and path to its contract route, its params, query and body are checked with
// the route's own schemas (as the service would check them), recorded, and answered by the
// test's handler; bodies and answers go through JSON both ways, as on the wire.
import { createError, hasErrorCode } from '@notify/lib';
import {
  authContract,
  avatarContract,
  counterContract,
  mailerContract,
  persistContract,
  serviceClient,
  type ContractRequest,
  type RouteContract,
  type RouteOutput,
  type ServiceClient,
  type ServiceContract,
} from '@notify/lib/contracts';
import type { z } from 'zod';
import type { Upstreams } from '../../src/upstreams.ts';

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** One call as the fake service received it, parsed with its route's schemas. */
export interface FakeRequest<R extends RouteContract = RouteContract> {
  params: Parsed<R['params']>;
  query: Parsed<R['query']>;
  body: Parsed<R['body']>;
  /** The user the call acts for (named in the caller's signed credential). */
  user: string | undefined;
  headers: Record<string, string>;
}

export type FakeHandler<R extends RouteContract> = (request: FakeRequest<R>) => RouteOutput<R> | Promise<RouteOutput<R>>;

/** One service of the contract, answered in memory; routes without a handler fail the call loudly. */
export class FakeService<R extends Record<string, RouteContract>> {
  readonly client: ServiceClient<R>;
  private readonly handlers: { [K in keyof R]?: FakeHandler<R[K]> } = {};
  private readonly received: { route: keyof R; request: FakeRequest }[] = [];

  constructor(private readonly contract: ServiceContract<string, R>) {
    this.client = serviceClient(contract, (request) => this.send(request));
  }

  /** Answers `route` with `handler` from now on (replacing any earlier one). */
  answer<K extends keyof R>(route: K, handler: FakeHandler<R[K]>): this {
    this.handlers[route] = handler;
    return this;
  }

  /** The calls `route` received, in order. */
  calls<K extends keyof R>(route: K): FakeRequest<R[K]>[] {
    return this.received.filter((call) => call.route === route).map((call) => call.request as FakeRequest<R[K]>);
  }

  /** How many calls the service received, all routes together. */
  get callCount(): number {
    return this.received.length;
  }

  private async send(request: ContractRequest): Promise<unknown> {
    const [pathname = '', search = ''] = request.path.split('?', 2);
    const found = this.route(request.method, pathname);
    if (!found) throw new Error(`${this.contract.service} has no route ${request.method} ${pathname}`);
    const { name, route, params } = found;
    const parsed: FakeRequest = {
      params: parse(route.params, params),
      query: parse(route.query, Object.fromEntries(new URLSearchParams(search))),
      // Bytes (an uploaded picture) go as they are, anything else as JSON.
      body: parse(route.body, request.body === undefined ? undefined : request.body instanceof Uint8Array ? request.body : JSON.parse(JSON.stringify(request.body))),
      user: request.user,
      headers: request.headers ?? {},
    };
    this.received.push({ route: name, request: parsed });
    const handler = this.handlers[name] as FakeHandler<RouteContract> | undefined;
    if (!handler) throw new Error(`${this.contract.service}.${String(name)} has no fake answer in this test`);
    try {
      const answer = await handler(parsed);
      return JSON.parse(JSON.stringify(answer)) as unknown;
    } catch (error) {
      // An error crosses the wire as its code, message and details only.
      if (hasErrorCode(error)) throw createError({ code: error.code, message: error.message, details: (error as { details?: Record<string, unknown> }).details ?? {} });
      throw error;
    }
  }

  private route(method: string, pathname: string): { name: keyof R; route: RouteContract; params: Record<string, string> } | undefined {
    for (const [name, route] of Object.entries(this.contract.routes) as [keyof R, RouteContract][]) {
      if (route.method !== method) continue;
      const names: string[] = [];
      const pattern = route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_match, param: string) => {
        names.push(param);
        return '([^/]+)';
      });
      const match = new RegExp(`^${pattern}$`).exec(pathname);
      if (match) return { name, route, params: Object.fromEntries(names.map((param, at) => [param, decodeURIComponent(match[at + 1]!)])) };
    }
    return undefined;
  }
}

/** A part of the request checked with its route's schema: INVALID_ARGUMENT (a 400) when it fails, as the service answers. */
function parse(schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw createError({ code: 'INVALID_ARGUMENT', message: `request does not match the contract: ${JSON.stringify(issues.slice(0, 3))}`, details: { issues } });
  }
  return result.data;
}

/**
 * auth, persist, counter, the mailer and the avatar service as fakes, and their clients in the shape
 * the gateway's components take. The avatar service answers `versions` with `generated` for everyone
 * until a test answers it otherwise.
 */
export function fakeUpstreams() {
  const auth = new FakeService(authContract);
  const persist = new FakeService(persistContract);
  const counter = new FakeService(counterContract);
  const mailer = new FakeService(mailerContract);
  const avatar = new FakeService(avatarContract).answer('versions', ({ body }) => ({ versions: Object.fromEntries(body.userIds.map((userId) => [userId, 'generated'])) }));
  const clients: Pick<Upstreams, 'auth' | 'persist' | 'counter' | 'mailer' | 'avatar' | 'avatarVersions'> = {
    auth: auth.client,
    persist: persist.client,
    counter: counter.client,
    mailer: mailer.client,
    avatar: avatar.client,
    avatarVersions: avatar.client,
  };
  return { auth, persist, counter, mailer, avatar, clients };
}

export type FakeUpstreams = ReturnType<typeof fakeUpstreams>;
