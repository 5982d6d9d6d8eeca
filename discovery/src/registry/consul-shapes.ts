// Builds Consul's JSON shapes from the registry's records: pure functions, no state.
import { isIPv4, isIPv6 } from 'node:net';
import type {
  AgentService,
  CatalogService,
  CheckStatus,
  HealthCheck,
  NodeInfo,
  NodeService,
  ServiceAddress,
} from './consul-types.ts';
import { displayDurations, type CheckDefinition, type ServiceDefinition } from './service-definition.ts';

/** The single node this registry plays. */
export interface NodeIdentity {
  datacenter: string;
  nodeName: string;
  nodeAddress: string;
  nodeId: string;
  /** Index at which the node "joined": the registry's first index. */
  index: number;
}

export interface InstanceRecord {
  readonly def: ServiceDefinition;
  readonly createIndex: number;
  modifyIndex: number;
}

export interface CheckRecord {
  readonly def: CheckDefinition;
  status: CheckStatus;
  output: string;
  createIndex: number;
  modifyIndex: number;
}

const weights = (def: ServiceDefinition) => ({ Passing: def.weights.passing, Warning: def.weights.warning });

/** Consul adds lan/wan tagged addresses for a service whose Address is an IP. */
function serviceTaggedAddresses(def: ServiceDefinition): Record<string, ServiceAddress> {
  const entry = { Address: def.address, Port: def.port };
  if (isIPv4(def.address)) return { lan_ipv4: entry, wan_ipv4: entry };
  if (isIPv6(def.address)) return { lan_ipv6: entry, wan_ipv6: entry };
  return {};
}

export function nodeInfo(node: NodeIdentity): NodeInfo {
  const address = node.nodeAddress;
  return {
    ID: node.nodeId,
    Node: node.nodeName,
    Address: address,
    Datacenter: node.datacenter,
    TaggedAddresses: isIPv6(address)
      ? { lan: address, lan_ipv6: address, wan: address, wan_ipv6: address }
      : { lan: address, lan_ipv4: address, wan: address, wan_ipv4: address },
    Meta: { 'consul-network-segment': '' },
    CreateIndex: node.index,
    ModifyIndex: node.index,
  };
}

export function agentService(node: NodeIdentity, { def }: InstanceRecord): AgentService {
  return {
    ID: def.id,
    Service: def.name,
    Tags: [...def.tags],
    Meta: { ...def.meta },
    Port: def.port,
    Address: def.address,
    TaggedAddresses: serviceTaggedAddresses(def),
    Weights: weights(def),
    EnableTagOverride: def.enableTagOverride,
    Datacenter: node.datacenter,
  };
}

export function nodeService(instance: InstanceRecord): NodeService {
  const { def } = instance;
  return {
    ID: def.id,
    Service: def.name,
    Tags: [...def.tags],
    Address: def.address,
    TaggedAddresses: serviceTaggedAddresses(def),
    Meta: { ...def.meta },
    Port: def.port,
    Weights: weights(def),
    EnableTagOverride: def.enableTagOverride,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: '',
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}

export function catalogService(node: NodeIdentity, instance: InstanceRecord): CatalogService {
  const { def } = instance;
  const info = nodeInfo(node);
  return {
    ID: info.ID,
    Node: info.Node,
    Address: info.Address,
    Datacenter: info.Datacenter,
    TaggedAddresses: info.TaggedAddresses,
    NodeMeta: info.Meta,
    ServiceKind: '',
    ServiceID: def.id,
    ServiceName: def.name,
    ServiceTags: [...def.tags],
    ServiceAddress: def.address,
    ServiceTaggedAddresses: serviceTaggedAddresses(def),
    ServiceWeights: weights(def),
    ServiceMeta: { ...def.meta },
    ServicePort: def.port,
    ServiceSocketPath: '',
    ServiceEnableTagOverride: def.enableTagOverride,
    ServiceProxy: { Mode: '', MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}

export function healthCheck(node: NodeIdentity, instance: InstanceRecord, check: CheckRecord): HealthCheck {
  return {
    Node: node.nodeName,
    CheckID: check.def.checkId,
    Name: check.def.name,
    Status: check.status,
    Notes: check.def.notes,
    Output: check.output,
    ServiceID: instance.def.id,
    ServiceName: instance.def.name,
    ServiceTags: [...instance.def.tags],
    Type: check.def.type,
    ...displayDurations(check.def),
    ExposedPort: 0,
    Definition: {},
    CreateIndex: check.createIndex,
    ModifyIndex: check.modifyIndex,
  };
}

/** The node-level check every Consul agent reports beside service checks; always passing here. */
export function serfHealth(node: NodeIdentity): HealthCheck {
  return {
    Node: node.nodeName,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing',
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
    CreateIndex: node.index,
    ModifyIndex: node.index,
  };
}
