// /v1/health/*: instances with their checks, `?passing` filtering, and blocking reads.
import type { FastifyPluginAsync } from 'fastify';
import { filterReadable } from './acl-http.ts';
import {
  awaitBlockingRead,
  checkDatacenter,
  queryFlag,
  queryValues,
  sendRead,
  sendText,
  type ConsulRoutesOptions,
} from './consul-http.ts';

type NameParams = { Params: { '*': string } };

export const healthRoutes: FastifyPluginAsync<ConsulRoutesOptions> = async (app, { registry }) => {
  app.get<NameParams>('/v1/health/service/*', async (request, reply) => {
    const name = request.params['*'];
    if (name === '') return sendText(reply, 400, 'Missing service name');
    if (!checkDatacenter(request, reply, registry)) return reply;
    const passing = queryFlag(request, 'passing');
    if (passing === undefined) return sendText(reply, 400, 'Invalid value for ?passing');
    const index = await awaitBlockingRead(request, reply, registry, () => registry.serviceIndex(name));
    if (index === undefined) return reply;
    const entries = registry.healthService(name, { passing, tags: queryValues(request, 'tag') });
    return sendRead(request, reply, index, filterReadable(request, reply, entries, () => name, registry.nodeName));
  });

  app.get<NameParams>('/v1/health/checks/*', async (request, reply) => {
    const name = request.params['*'];
    if (name === '') return sendText(reply, 400, 'Missing service name');
    if (!checkDatacenter(request, reply, registry)) return reply;
    const index = await awaitBlockingRead(request, reply, registry, () => registry.serviceIndex(name));
    if (index === undefined) return reply;
    return sendRead(request, reply, index, filterReadable(request, reply, registry.healthChecks(name), () => name, registry.nodeName));
  });
};
