// /v1/agent/*: service registration, TTL check updates, the agent's own services and checks, and /self.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { FastifyRequest } from 'fastify';
import {
  foreignCheckTarget,
  foreignIds,
  parseCheckUpdateJson,
  parseServiceDefinitionJson,
  type CheckStatus,
  type CheckUpdateResult,
} from '../registry/index.ts';
import { authorize, filterReadableRecord, sendDenied } from './acl-http.ts';
import { awaitBlockingRead, queryValue, sendRead, sendText, type ConsulRoutesOptions } from './consul-http.ts';

/** Consul version this registry answers as; a subset of its API, so only informational. */
export const CONSUL_COMPAT_VERSION = '1.15.0';

/** Wildcard routes take the rest of the path as the id, as Consul's TrimPrefix does (ids may hold "/"). */
type IdParams = { Params: { '*': string } };

function answerCheckUpdate(reply: FastifyReply, checkId: string, result: CheckUpdateResult): FastifyReply {
  if (result === 'unknown-check') {
    return sendText(reply, 404, `Unknown check ID ${JSON.stringify(checkId)}. Ensure that the check ID is passed, not the check name.`);
  }
  // Consul answers this with a 500; it is the caller's mistake, so 400 here.
  if (result === 'not-ttl') return sendText(reply, 400, `CheckID ${JSON.stringify(checkId)} does not have associated TTL`);
  return reply.code(200).send();
}

/**
 * Whether the request may change what another registration holds: write on its service, and the
 * token that registered it (or a management token), so no token takes over an id it did not register.
 * Answers 403 when not.
 */
function mayChange(request: FastifyRequest, reply: FastifyReply, held: { name: string; owner: string }, what: string): boolean {
  if (!authorize(request, reply, 'service', held.name, 'write')) return false;
  if (request.acl.management || held.owner === request.acl.accessorId) return true;
  sendDenied(reply, `Permission denied: ${what} was registered with another token; only that token or a management token may change it`);
  return false;
}

export const agentRoutes: FastifyPluginAsync<ConsulRoutesOptions> = async (app, { registry }) => {
  app.put('/v1/agent/service/register', async (request, reply) => {
    const parsed = parseServiceDefinitionJson(typeof request.body === 'string' ? request.body : '');
    if (!parsed.ok) return sendText(reply, 400, parsed.message);
    const def = parsed.value;
    if (!authorize(request, reply, 'service', def.name, 'write')) return reply;
    const existing = registry.instanceOwner(def.id);
    if (existing && !mayChange(request, reply, existing, `service ID ${JSON.stringify(def.id)}`)) return reply;
    for (const check of def.checks) {
      const holder = registry.checkHolder(check.checkId);
      if (holder && holder.serviceId !== def.id && !mayChange(request, reply, holder, `check ID ${JSON.stringify(check.checkId)}`)) return reply;
    }
    const foreign = foreignCheckTarget(def, registry.nodeAddress, request.acl.management ? undefined : request.ip) ?? (request.acl.management ? undefined : foreignIds(def));
    if (foreign) return sendText(reply, 400, foreign);
    registry.register(def, request.acl.accessorId);
    return reply.code(200).send();
  });

  app.put<IdParams>('/v1/agent/service/deregister/*', async (request, reply) => {
    const serviceId = request.params['*'];
    const existing = registry.instanceOwner(serviceId);
    if (!existing) {
      return sendText(reply, 404, `Unknown service ID ${JSON.stringify(serviceId)}. Ensure that the service ID is passed, not the service name.`);
    }
    if (!mayChange(request, reply, existing, `service ID ${JSON.stringify(serviceId)}`)) return reply;
    registry.deregister(serviceId);
    return reply.code(200).send();
  });

  /** Whether the request may update check `checkId` (403 when not); an unknown check goes on to its 404. */
  const mayUpdateCheck = (request: FastifyRequest, reply: FastifyReply, checkId: string): boolean => {
    const holder = registry.checkHolder(checkId);
    return !holder || mayChange(request, reply, holder, `check ID ${JSON.stringify(checkId)}`);
  };

  const statusByVerb: Record<'pass' | 'warn' | 'fail', CheckStatus> = { pass: 'passing', warn: 'warning', fail: 'critical' };
  for (const [verb, status] of Object.entries(statusByVerb)) {
    app.put<IdParams>(`/v1/agent/check/${verb}/*`, async (request, reply) => {
      const checkId = request.params['*'];
      if (!mayUpdateCheck(request, reply, checkId)) return reply;
      // The note becomes the check's output, replacing the last one (an absent note clears it).
      const result = registry.updateTtlCheck(checkId, status, queryValue(request, 'note') ?? '');
      return answerCheckUpdate(reply, checkId, result);
    });
  }

  app.put<IdParams>('/v1/agent/check/update/*', async (request, reply) => {
    const parsed = parseCheckUpdateJson(typeof request.body === 'string' ? request.body : '');
    if (!parsed.ok) return sendText(reply, 400, parsed.message);
    const checkId = request.params['*'];
    if (!mayUpdateCheck(request, reply, checkId)) return reply;
    return answerCheckUpdate(reply, checkId, registry.updateTtlCheck(checkId, parsed.value.status, parsed.value.output));
  });

  app.get('/v1/agent/services', async (request, reply) => {
    const read = () => registry.catalogIndex();
    const index = await awaitBlockingRead(request, reply, registry, read);
    if (index === undefined) return reply;
    const services = filterReadableRecord(request, reply, registry.agentServices(), (_id, service) => service.Service, registry.nodeName);
    return sendRead(request, reply, index, services);
  });

  app.get('/v1/agent/checks', async (request, reply) => {
    const checks = filterReadableRecord(request, reply, registry.agentChecks(), (_id, check) => check.ServiceName, registry.nodeName);
    return sendRead(request, reply, registry.currentIndex(), checks);
  });

  // Prometheus's consul_sd reads Config.Datacenter here; Go's client decodes every top-level
  // value as an object, so nothing at the top level may be a string or an array.
  app.get('/v1/agent/self', async (request, reply) => {
    if (!authorize(request, reply, 'agent', registry.nodeName, 'read')) return reply;
    const services = Object.keys(registry.agentServices()).length;
    const checks = Object.keys(registry.agentChecks()).length;
    return {
      Config: {
        Datacenter: registry.datacenter,
        PrimaryDatacenter: registry.datacenter,
        NodeName: registry.nodeName,
        NodeID: registry.nodeId,
        Revision: 'notify-discovery',
        Server: true,
        Version: CONSUL_COMPAT_VERSION,
      },
      Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
      Member: {
        Name: registry.nodeName,
        Addr: registry.nodeAddress,
        Port: 8301,
        Tags: {
          build: `${CONSUL_COMPAT_VERSION}:notify-discovery`,
          dc: registry.datacenter,
          id: registry.nodeId,
          port: '8300',
          role: 'consul',
          segment: '',
          vsn: '2',
          vsn_max: '3',
          vsn_min: '2',
        },
        Status: 1,
        ProtocolMin: 1,
        ProtocolMax: 5,
        ProtocolCur: 2,
        DelegateMin: 2,
        DelegateMax: 5,
        DelegateCur: 4,
      },
      Stats: {
        agent: { checks: String(checks), services: String(services) },
        consul: { known_datacenters: '1', leader: 'true', server: 'true' },
      },
      Meta: { 'consul-network-segment': '' },
    };
  });
};
