// /v1/status/*: the Raft leader and peers of this single-node "cluster".
import type { FastifyPluginAsync } from 'fastify';
import type { ConsulRoutesOptions } from './consul-http.ts';

/** 8300, Consul's server RPC port, which is what /status/leader reports beside the address. */
const SERVER_RPC_PORT = 8300;

export const statusRoutes: FastifyPluginAsync<ConsulRoutesOptions> = async (app, { registry }) => {
  const leader = () => `${registry.nodeAddress.includes(':') ? `[${registry.nodeAddress}]` : registry.nodeAddress}:${SERVER_RPC_PORT}`;

  // Consul answers a bare JSON string here, e.g. "127.0.0.1:8300".
  app.get('/v1/status/leader', async (_request, reply) => reply.type('application/json').send(JSON.stringify(leader())));

  app.get('/v1/status/peers', async () => [leader()]);
};
