// buildApp(config): the discovery service on the shared kit, serving the Consul HTTP API subset
// over an in-memory registry. Wires plugins and routes; never listens (service.listen() listens,
// then lists discovery itself in its own catalog, as Consul lists "consul").
import { createService, type Service } from '@notify/lib';
import { Acl, managementToken, readToken, serviceToken, type AclToken } from './acl/index.ts';
import type { Config } from './config.ts';
import { parseServiceDefinition, Registry } from './registry/index.ts';
import { consulApi } from './routes/index.ts';
import { registerDiscoveryMetrics } from './metrics.ts';

export interface DiscoveryService {
  service: Service;
  registry: Registry;
}

/** Owner of discovery's own entry: no token's AccessorID, so only a management token may change it. */
const SELF_OWNER = 'discovery';

/** The ACL tokens configuration names. */
function configuredTokens(config: Readonly<Config>): AclToken[] {
  return [
    ...(config.ACL_MANAGEMENT_TOKEN ? [managementToken(config.ACL_MANAGEMENT_TOKEN)] : []),
    ...config.ACL_SERVICE_TOKENS.map(({ name, secret }) => serviceToken(name, secret)),
    ...config.ACL_READ_TOKENS.map((secret) => readToken(secret)),
  ];
}

export async function buildApp(config: Readonly<Config>): Promise<DiscoveryService> {
  const service = createService({
    name: 'discovery',
    // The Consul API judges callers by their ACL tokens, not by service credentials.
    defaultCallers: 'public',
    // Every instance's heartbeats and blocking watches: a span each would bury the traces that matter.
    traceRequests: false,
    config: {
      ...config,
      // The kit's registration and watches are for clients of a registry; discovery is the registry.
      DISCOVERY_URL: `http://127.0.0.1:${config.PORT}`,
      DISCOVERY_REGISTER: false,
      HEALTH_TTL_MS: config.SELF_CHECK_INTERVAL_MS,
      DEREGISTER_CRITICAL_AFTER_MS: 60_000,
    },
    register: false,
  });
  const registry = new Registry({
    datacenter: config.DATACENTER,
    nodeName: config.NODE_NAME,
    nodeAddress: config.ADVERTISE_ADDRESS,
    logger: service.log,
  });
  const acl = new Acl({ enabled: config.ACL_ENABLED, defaultPolicy: config.ACL_DEFAULT_POLICY, tokens: configuredTokens(config) });
  await service.app.register(consulApi, { registry, acl });
  registerDiscoveryMetrics(service.metrics, registry);
  service.addDependency('registry', () => ({ state: 'up', detail: `${Object.keys(registry.agentServices()).length} instances` }));

  // Once listening: the same path an HTTP registration takes, with an HTTP check on our own /health.
  service.onStart((bound) => {
    const self = parseServiceDefinition({
      ID: service.instanceId,
      Name: 'discovery',
      Address: bound.address,
      Port: bound.port,
      Tags: ['registry'],
      Meta: { version: '0.1.0' },
      Check: {
        HTTP: `http://${bound.address}:${bound.port}/health`,
        Interval: `${config.SELF_CHECK_INTERVAL_MS}ms`,
        Timeout: '2s',
        Status: 'passing',
      },
    });
    if (!self.ok) throw new Error(`discovery's own registration is invalid: ${self.message}`);
    registry.register(self.value, SELF_OWNER);
  });
  // A blocking read holds its request open for up to 10 minutes: release them all as the close
  // begins, before the server waits for in-flight requests, and stop every check timer. Writes
  // from then on get 503.
  service.onDrain(() => registry.close());

  return { service, registry };
}
