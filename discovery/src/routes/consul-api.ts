// The Consul HTTP API subset as one encapsulated fastify plugin: registers every /v1 route and
// gives them Consul's body handling and text/plain errors without touching the host app's own.
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { RegistryClosedError } from '../registry/index.ts';
import { filterReadable, installAcl } from './acl-http.ts';
import { agentRoutes } from './agent.ts';
import { catalogRoutes } from './catalog.ts';
import { sendText, type ConsulRoutesOptions } from './consul-http.ts';
import { healthRoutes } from './health.ts';
import { statusRoutes } from './status.ts';

/** 1 MiB: the largest registration body accepted. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const consulApi: FastifyPluginAsync<ConsulRoutesOptions> = async (app, { registry, acl }) => {
  // Consul decodes a body as JSON whatever its Content-Type (curl --data sends a form type),
  // so every body arrives as a string and the routes decode it themselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendText(reply, 400, `Request decode failed: body larger than ${MAX_BODY_BYTES} bytes`);
    }
    // A write that arrives while the service shuts down (the registry closes as the close begins).
    if (error instanceof RegistryClosedError) return sendText(reply, 503, error.message);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendText(reply, status, error.message);
    request.log.error({ err: error }, 'consul api request failed');
    return sendText(reply, 500, error.message);
  });

  // Before any route: every request is judged by its token.
  installAcl(app, acl);
  const options = { registry, acl };
  await app.register(agentRoutes, options);
  await app.register(catalogRoutes, options);
  await app.register(healthRoutes, options);
  await app.register(statusRoutes, options);
  // Not Consul's: the same instances in Prometheus's HTTP service-discovery format.
  app.get('/prometheus/targets', async (request, reply) =>
    filterReadable(request, reply, registry.prometheusTargets(), (group) => group.labels.__meta_consul_service!, registry.nodeName),
  );
};
