// /v1/catalog/*: services and their instances as the catalog lists them, with blocking reads.
import type { FastifyPluginAsync } from 'fastify';
import { filterReadable, filterReadableRecord } from './acl-http.ts';
import { awaitBlockingRead, checkDatacenter, queryValues, sendRead, sendText, type ConsulRoutesOptions } from './consul-http.ts';

export const catalogRoutes: FastifyPluginAsync<ConsulRoutesOptions> = async (app, { registry }) => {
  app.get('/v1/catalog/datacenters', async () => [registry.datacenter]);

  app.get('/v1/catalog/nodes', async (request, reply) => {
    if (!checkDatacenter(request, reply, registry)) return reply;
    const nodes = request.acl.allows('node', registry.nodeName, 'read') ? [registry.node()] : [];
    if (nodes.length === 0) reply.header('X-Consul-Results-Filtered-By-ACLs', 'true');
    return sendRead(request, reply, registry.catalogIndex(), nodes);
  });

  app.get('/v1/catalog/services', async (request, reply) => {
    if (!checkDatacenter(request, reply, registry)) return reply;
    const index = await awaitBlockingRead(request, reply, registry, () => registry.catalogIndex());
    if (index === undefined) return reply;
    return sendRead(request, reply, index, filterReadableRecord(request, reply, registry.catalogServices(), (name) => name, registry.nodeName));
  });

  app.get<{ Params: { '*': string } }>('/v1/catalog/service/*', async (request, reply) => {
    const name = request.params['*'];
    if (name === '') return sendText(reply, 400, 'Missing service name');
    if (!checkDatacenter(request, reply, registry)) return reply;
    const index = await awaitBlockingRead(request, reply, registry, () => registry.serviceIndex(name));
    if (index === undefined) return reply;
    return sendRead(request, reply, index, filterReadable(request, reply, registry.catalogService(name, queryValues(request, 'tag')), () => name, registry.nodeName));
  });
};
