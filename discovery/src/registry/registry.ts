// The in-memory service registry: instances, their TTL/HTTP checks, reaping, and Consul-style
// modify indexes that blocking queries wait on. Plain class; knows nothing of HTTP.
import { createHash } from 'node:crypto';
import { ChangeFeed, type WaitOutcome } from './change-feed.ts';
import {
  agentService,
  catalogService,
  healthCheck,
  nodeInfo,
  nodeService,
  serfHealth,
  type CheckRecord,
  type InstanceRecord,
  type NodeIdentity,
} from './consul-shapes.ts';
import type { AgentService, CatalogService, CheckStatus, HealthCheck, NodeInfo, ServiceEntry } from './consul-types.ts';
import { formatDuration } from './duration.ts';
import { HttpCheck, MIN_CHECK_INTERVAL_MS } from './http-check.ts';
import { truncateOutput, type ServiceDefinition } from './service-definition.ts';

/** The subset of a pino logger the registry uses. */
export interface RegistryLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface RegistryOptions {
  datacenter: string;
  nodeName: string;
  /** Address reported for the node; clients fall back to it for services registered without one. */
  nodeAddress: string;
  /** Stable node UUID; derived from the node name when omitted. */
  nodeId?: string;
  logger?: RegistryLogger;
}

export type CheckUpdateResult = 'updated' | 'unknown-check' | 'not-ttl';

/** Thrown by writes once the registry is closed (the service is shutting down). */
export class RegistryClosedError extends Error {
  constructor() {
    super('Registry is shutting down');
    this.name = 'RegistryClosedError';
  }
}

interface CheckState extends CheckRecord {
  /** What the service last reported, kept for the "TTL expired" message. */
  lastOutput: string;
  /** Epoch ms when the check last turned critical; undefined while not critical. */
  criticalSince: number | undefined;
  ttlTimer?: NodeJS.Timeout;
  reapTimer?: NodeJS.Timeout;
  http?: HttpCheck;
}

interface Instance extends InstanceRecord {
  /** The registration as JSON; an identical re-registration changes nothing. */
  readonly signature: string;
  /** AccessorID of the ACL token that registered it: only that token (or management) may change it. */
  readonly owner: string;
  readonly checks: Map<string, CheckState>;
}

/** A UUID-shaped id derived from the node name, so it survives restarts as Consul's node-id file does. */
function uuidFromName(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Ascending order of two keys, as Consul sorts ids and map keys. */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Go encodes maps with sorted keys; so does Consul's JSON. */
function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => compareKeys(a, b)));
}

/**
 * Indexes: one global counter moves on every relevant change; each service name remembers the
 * counter value of its last change (kept after the name disappears, so its deregistration is seen),
 * and the catalog index moves when the set of services or their definitions change.
 * The counter starts from the clock, so indexes keep growing across restarts of this in-memory store.
 */
export class Registry {
  readonly datacenter: string;
  readonly nodeName: string;
  readonly nodeAddress: string;
  readonly nodeId: string;

  private readonly identity: NodeIdentity;
  private readonly instances = new Map<string, Instance>();
  /** CheckID → ServiceID; check ids are unique across the agent, as in Consul. */
  private readonly checkOwner = new Map<string, string>();
  private readonly nameIndexes = new Map<string, number>();
  private readonly feed = new ChangeFeed();
  private readonly logger: RegistryLogger | undefined;
  private readonly initialIndex: number;
  private lastIndex: number;
  private catalogIdx: number;
  private closed = false;

  constructor(options: RegistryOptions) {
    this.datacenter = options.datacenter;
    this.nodeName = options.nodeName;
    this.nodeAddress = options.nodeAddress;
    this.nodeId = options.nodeId ?? uuidFromName(options.nodeName);
    this.logger = options.logger;
    this.initialIndex = Date.now();
    this.lastIndex = this.initialIndex;
    this.catalogIdx = this.initialIndex;
    this.identity = {
      datacenter: this.datacenter,
      nodeName: this.nodeName,
      nodeAddress: this.nodeAddress,
      nodeId: this.nodeId,
      index: this.initialIndex,
    };
  }

  // ---- indexes and blocking -------------------------------------------------------------

  /** Index of /v1/catalog/services and /v1/agent/services. */
  catalogIndex(): number {
    return this.catalogIdx;
  }

  /** The latest index handed out for any change (check status included). */
  currentIndex(): number {
    return this.lastIndex;
  }

  /** Index of everything about one service name (catalog and health views). */
  serviceIndex(name: string): number {
    return this.nameIndexes.get(name) ?? this.initialIndex;
  }

  /** Blocks until `read()` exceeds `minIndex`, `timeoutMs` passes, `signal` aborts, or the registry closes. */
  waitForIndex(read: () => number, minIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    return this.feed.waitFor(() => read() > minIndex, timeoutMs, signal);
  }

  /** Number of reads currently blocked. */
  get blockedReads(): number {
    return this.feed.pending;
  }

  /** Next index: one more than the last, or the clock in ms if that is ahead (monotonic across restarts). */
  private allocateIndex(): number {
    this.lastIndex = Math.max(this.lastIndex + 1, Date.now());
    return this.lastIndex;
  }

  private publish(index: number, names: Iterable<string>, catalog: boolean): void {
    for (const name of names) this.nameIndexes.set(name, index);
    if (catalog) this.catalogIdx = index;
    this.feed.notify();
  }

  // ---- writes ----------------------------------------------------------------------------

  /**
   * Registers or replaces a service instance. Checks that keep their CheckID keep their status and
   * output, as Consul does, so a re-registration never flaps health; checks no longer listed go.
   * An identical re-registration only restarts TTL timers and moves no index.
   */
  register(def: ServiceDefinition, owner = ''): { changed: boolean } {
    this.assertOpen();
    const existing = this.instances.get(def.id);
    const signature = JSON.stringify([def, owner]);
    if (existing && existing.signature === signature) {
      for (const check of existing.checks.values()) if (check.def.type === 'ttl') this.armTtl(existing, check);
      return { changed: false };
    }

    const index = this.allocateIndex();
    const touched = new Set<string>([def.name]);
    if (existing) touched.add(existing.def.name);
    const previous = new Map<string, CheckState>(existing?.checks ?? []);
    // A CheckID owned by another service moves here: Consul keys checks by id and overwrites.
    for (const checkDef of def.checks) {
      const ownerId = this.checkOwner.get(checkDef.checkId);
      if (ownerId === undefined || ownerId === def.id) continue;
      const owner = this.instances.get(ownerId);
      const moved = owner?.checks.get(checkDef.checkId);
      if (!owner || !moved) continue;
      owner.checks.delete(checkDef.checkId);
      owner.modifyIndex = index;
      touched.add(owner.def.name);
      previous.set(checkDef.checkId, moved);
    }

    const now = Date.now();
    const instance: Instance = {
      def,
      signature,
      owner,
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
      checks: new Map(),
    };
    for (const checkDef of def.checks) {
      const prev = previous.get(checkDef.checkId);
      const status = prev?.status ?? checkDef.status;
      instance.checks.set(checkDef.checkId, {
        def: checkDef,
        status,
        output: prev?.output ?? '',
        lastOutput: prev?.lastOutput ?? '',
        createIndex: prev?.createIndex ?? index,
        modifyIndex: index,
        criticalSince: status === 'critical' ? (prev?.criticalSince ?? now) : undefined,
      });
    }

    for (const old of previous.values()) this.stopCheck(old);
    for (const checkId of existing?.checks.keys() ?? []) {
      if (this.checkOwner.get(checkId) === def.id) this.checkOwner.delete(checkId);
    }
    this.instances.set(def.id, instance);
    for (const check of instance.checks.values()) {
      this.checkOwner.set(check.def.checkId, def.id);
      this.startCheck(instance, check);
    }
    this.publish(index, touched, true);
    this.logger?.info(
      { serviceId: def.id, service: def.name, address: def.address, port: def.port, replaced: Boolean(existing) },
      'service registered',
    );
    return { changed: true };
  }

  /** Name and owner (registering token's AccessorID) of instance `serviceId`, if registered. */
  instanceOwner(serviceId: string): { name: string; owner: string } | undefined {
    const instance = this.instances.get(serviceId);
    return instance && { name: instance.def.name, owner: instance.owner };
  }

  /** The instance check `checkId` belongs to, with its name and owner, if the check exists. */
  checkHolder(checkId: string): { serviceId: string; name: string; owner: string } | undefined {
    const found = this.findCheck(checkId);
    return found && { serviceId: found.instance.def.id, name: found.instance.def.name, owner: found.instance.owner };
  }

  /** Removes an instance and its checks; false when the id is unknown. */
  deregister(serviceId: string): boolean {
    this.assertOpen();
    const instance = this.instances.get(serviceId);
    if (!instance) return false;
    this.removeInstance(instance);
    this.logger?.info({ serviceId, service: instance.def.name }, 'service deregistered');
    return true;
  }

  /**
   * Sets a TTL check's status (pass/warn/fail/update) and restarts its TTL.
   * Moves the service's index only when the status changes, so heartbeats do not wake watchers.
   */
  updateTtlCheck(checkId: string, status: CheckStatus, output: string): CheckUpdateResult {
    this.assertOpen();
    const found = this.findCheck(checkId);
    if (!found) return 'unknown-check';
    const { instance, check } = found;
    if (check.def.type !== 'ttl') return 'not-ttl';
    const truncated = truncateOutput(output);
    check.lastOutput = truncated;
    this.armTtl(instance, check);
    this.applyResult(instance, check, status, truncated);
    return 'updated';
  }

  /** Stops every timer and probe and releases blocked reads. Writes after this throw RegistryClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const instance of this.instances.values()) for (const check of instance.checks.values()) this.stopCheck(check);
    this.feed.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new RegistryClosedError();
  }

  private findCheck(checkId: string): { instance: Instance; check: CheckState } | undefined {
    const ownerId = this.checkOwner.get(checkId);
    const instance = ownerId === undefined ? undefined : this.instances.get(ownerId);
    const check = instance?.checks.get(checkId);
    return instance && check ? { instance, check } : undefined;
  }

  private removeInstance(instance: Instance): void {
    for (const check of instance.checks.values()) {
      this.stopCheck(check);
      if (this.checkOwner.get(check.def.checkId) === instance.def.id) this.checkOwner.delete(check.def.checkId);
    }
    this.instances.delete(instance.def.id);
    this.publish(this.allocateIndex(), [instance.def.name], true);
  }

  /** True while `check` is still the live check of the live `instance` (timers of replaced ones are void). */
  private isLive(instance: Instance, check: CheckState): boolean {
    return !this.closed && this.instances.get(instance.def.id) === instance && instance.checks.get(check.def.checkId) === check;
  }

  private startCheck(instance: Instance, check: CheckState): void {
    const { def } = check;
    if (def.type === 'ttl') {
      this.armTtl(instance, check);
    } else {
      // As Consul's agent: an interval below the minimum runs at the minimum, with a warning.
      const intervalMs = Math.max(def.intervalMs, MIN_CHECK_INTERVAL_MS);
      if (intervalMs !== def.intervalMs) {
        this.logger?.warn(
          { checkId: def.checkId, intervalMs: def.intervalMs },
          `check has interval below minimum of ${formatDuration(MIN_CHECK_INTERVAL_MS)}`,
        );
      }
      check.http = new HttpCheck(
        { url: def.http, method: def.method, header: def.header, body: def.body, intervalMs, timeoutMs: def.timeoutMs },
        (status, output) => {
          if (this.isLive(instance, check)) this.applyResult(instance, check, status, truncateOutput(output));
        },
      );
      check.http.start();
    }
    if (check.status === 'critical') this.armReaper(instance, check);
  }

  private stopCheck(check: CheckState): void {
    clearTimeout(check.ttlTimer);
    clearTimeout(check.reapTimer);
    check.http?.stop();
  }

  /** A TTL timer per check (not a lazy check on read), so blocked watchers wake the moment it lapses. */
  private armTtl(instance: Instance, check: CheckState): void {
    if (check.def.type !== 'ttl') return;
    clearTimeout(check.ttlTimer);
    check.ttlTimer = setTimeout(() => {
      if (!this.isLive(instance, check)) return;
      const output = check.lastOutput ? `TTL expired (last output before timeout follows): ${check.lastOutput}` : 'TTL expired';
      if (check.status !== 'critical') this.logger?.warn({ checkId: check.def.checkId }, 'check missed its TTL, now critical');
      this.applyResult(instance, check, 'critical', output);
    }, check.def.ttlMs);
    check.ttlTimer.unref();
  }

  /** One timer per critical check with DeregisterCriticalServiceAfter; short values are honoured exactly. */
  private armReaper(instance: Instance, check: CheckState): void {
    const afterMs = check.def.deregisterCriticalAfterMs;
    clearTimeout(check.reapTimer);
    if (afterMs === undefined || check.criticalSince === undefined) return;
    const dueAt = check.criticalSince + afterMs;
    check.reapTimer = setTimeout(
      () => {
        if (!this.isLive(instance, check) || check.status !== 'critical') return;
        // Timers may fire a millisecond early against Date.now(); re-arm rather than reap early.
        if (Date.now() < dueAt) return this.armReaper(instance, check);
        this.logger?.warn(
          { serviceId: instance.def.id, checkId: check.def.checkId, criticalForMs: Date.now() - check.criticalSince! },
          'reaping service critical longer than DeregisterCriticalServiceAfter',
        );
        this.removeInstance(instance);
      },
      Math.max(0, dueAt - Date.now()),
    );
    check.reapTimer.unref();
  }

  /** Records a check result; only a status change moves indexes (output-only changes do not, as Consul defers them). */
  private applyResult(instance: Instance, check: CheckState, status: CheckStatus, output: string): void {
    check.output = output;
    if (check.status === status) return;
    const index = this.allocateIndex();
    const from = check.status;
    check.status = status;
    check.modifyIndex = index;
    if (status === 'critical') {
      check.criticalSince = Date.now();
      this.armReaper(instance, check);
    } else {
      check.criticalSince = undefined;
      clearTimeout(check.reapTimer);
    }
    this.publish(index, [instance.def.name], false);
    this.logger?.info({ checkId: check.def.checkId, serviceId: instance.def.id, from, to: status }, 'check status changed');
  }

  // ---- reads (Consul shapes) ---------------------------------------------------------------

  /** The one node this agent is, as /v1/catalog/nodes and health entries show it. */
  node(): NodeInfo {
    return nodeInfo(this.identity);
  }

  /** GET /v1/agent/services: ServiceID → AgentService. */
  agentServices(): Record<string, AgentService> {
    return sortedRecord([...this.instances.values()].map((i) => [i.def.id, agentService(this.identity, i)]));
  }

  /** GET /v1/agent/checks: CheckID → HealthCheck. */
  agentChecks(): Record<string, HealthCheck> {
    const entries: [string, HealthCheck][] = [];
    for (const instance of this.instances.values()) {
      for (const check of instance.checks.values()) entries.push([check.def.checkId, healthCheck(this.identity, instance, check)]);
    }
    return sortedRecord(entries);
  }

  /** GET /v1/catalog/services: service name → the union of its instances' tags. */
  catalogServices(): Record<string, string[]> {
    const tags = new Map<string, Set<string>>();
    for (const { def } of this.instances.values()) {
      const set = tags.get(def.name) ?? new Set<string>();
      for (const tag of def.tags) set.add(tag);
      tags.set(def.name, set);
    }
    return sortedRecord([...tags].map(([name, set]) => [name, [...set]]));
  }

  /** GET /v1/catalog/service/:name, optionally only instances carrying every tag in `tags`. */
  catalogService(name: string, tags: readonly string[] = []): CatalogService[] {
    return this.instancesOf(name, tags).map((instance) => catalogService(this.identity, instance));
  }

  /**
   * GET /v1/health/service/:name. With `passing`, entries with any non-passing check are left out
   * (a warning counts as not passing, as in Consul).
   */
  healthService(name: string, options: { passing?: boolean; tags?: readonly string[] } = {}): ServiceEntry[] {
    const node = this.node();
    const entries = this.instancesOf(name, options.tags ?? []).map(
      (instance): ServiceEntry => ({
        Node: node,
        Service: nodeService(instance),
        Checks: [...[...instance.checks.values()].map((c) => healthCheck(this.identity, instance, c)), serfHealth(this.identity)],
      }),
    );
    return options.passing ? entries.filter((e) => e.Checks.every((c) => c.Status === 'passing')) : entries;
  }

  /**
   * GET /prometheus/targets, Prometheus's HTTP service discovery: one target group per registered
   * instance, labelled with the `__meta_consul_*` names Prometheus's Consul discovery gives, so one
   * relabelling serves both (for Prometheus builds without Consul discovery, such as Debian's).
   */
  prometheusTargets(): { targets: string[]; labels: Record<string, string> }[] {
    return Object.keys(this.catalogServices()).flatMap((name) =>
      this.healthService(name).map(({ Node, Service, Checks }) => {
        const address = Service.Address || Node.Address;
        const health = Checks.every((c) => c.Status === 'passing') ? 'passing' : Checks.some((c) => c.Status === 'critical') ? 'critical' : 'warning';
        return {
          targets: [`${address}:${Service.Port}`],
          labels: {
            __meta_consul_service: Service.Service,
            __meta_consul_service_id: Service.ID,
            __meta_consul_service_address: address,
            __meta_consul_service_port: String(Service.Port),
            __meta_consul_tags: `,${Service.Tags.join(',')},`,
            __meta_consul_health: health,
            __meta_consul_dc: this.datacenter,
            __meta_consul_node: Node.Node,
          },
        };
      }),
    );
  }

  /** GET /v1/health/checks/:name: the service checks of every instance of a service. */
  healthChecks(name: string): HealthCheck[] {
    return this.instancesOf(name, []).flatMap((instance) =>
      [...instance.checks.values()].map((c) => healthCheck(this.identity, instance, c)),
    );
  }

  private instancesOf(name: string, tags: readonly string[]): Instance[] {
    return [...this.instances.values()]
      .filter((i) => i.def.name === name && tags.every((tag) => i.def.tags.includes(tag)))
      .sort((a, b) => compareKeys(a.def.id, b.def.id));
  }
}
