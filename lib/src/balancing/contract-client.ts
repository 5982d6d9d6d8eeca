// A service's typed client over the kit's UpstreamClient: one method per route of its contract,
// each with the route's method, path and idempotency, and the caller's deadline.
import { serviceClient, type RouteContract, type ServiceClient, type ServiceContract } from '../contracts/contract.ts';
import type { UpstreamClient } from './upstream-client.ts';

export function contractClient<R extends Record<string, RouteContract>>(client: UpstreamClient, contract: ServiceContract<string, R>, options: { deadlineMs: number }): ServiceClient<R> {
  return serviceClient(contract, async (request) => (await client.request({ ...request, deadlineMs: options.deadlineMs })).body);
}
