// Consul's JSON shapes (PascalCase, as its HTTP API answers them) for the endpoints this registry serves.

export type CheckStatus = 'passing' | 'warning' | 'critical';

export const CHECK_STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

export interface Weights {
  Passing: number;
  Warning: number;
}

export interface ServiceAddress {
  Address: string;
  Port: number;
}

/** One entry of GET /v1/agent/services. */
export interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Port: number;
  Address: string;
  TaggedAddresses: Record<string, ServiceAddress>;
  Weights: Weights;
  EnableTagOverride: boolean;
  Datacenter: string;
}

/** A service as /v1/health/service embeds it (Consul's NodeService). */
export interface NodeService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  TaggedAddresses: Record<string, ServiceAddress>;
  Meta: Record<string, string>;
  Port: number;
  Weights: Weights;
  EnableTagOverride: boolean;
  Proxy: { Mode: string; MeshGateway: Record<string, never>; Expose: Record<string, never> };
  Connect: Record<string, never>;
  PeerName: string;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A check as /v1/health/service, /v1/health/checks and /v1/agent/checks report it. */
export interface HealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  Interval: string;
  Timeout: string;
  ExposedPort: number;
  Definition: Record<string, never>;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface NodeInfo {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** One entry of GET /v1/health/service/:name. */
export interface ServiceEntry {
  Node: NodeInfo;
  Service: NodeService;
  Checks: HealthCheck[];
}

/** One entry of GET /v1/catalog/service/:name. */
export interface CatalogService {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  NodeMeta: Record<string, string>;
  ServiceKind: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServiceTaggedAddresses: Record<string, ServiceAddress>;
  ServiceWeights: Weights;
  ServiceMeta: Record<string, string>;
  ServicePort: number;
  ServiceSocketPath: string;
  ServiceEnableTagOverride: boolean;
  ServiceProxy: { Mode: string; MeshGateway: Record<string, never>; Expose: Record<string, never> };
  ServiceConnect: Record<string, never>;
  CreateIndex: number;
  ModifyIndex: number;
}
