// startSystem(topology, options): the system a topology describes, as real child processes. Discovery
// first; each service after what it needs and what it comes after; the instances of one step side by
// side, each step once the one before listens. By default (tests, benchmarks) on free ports, with a
// fresh test database per database, through spawnService; `npm start` gives fixed ports, its own
// databases and its supervised launch. The settings each instance gets are composed here, once.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { testDatabase } from './postgres.ts';
import { spawnService, type ServiceProcess } from './service-process.ts';
import { REGISTRY, serviceSpec, startsAfter, type Place, type ServiceSpec, type Topology } from './topology.ts';

/** One instance of a run, before it starts. */
export interface PlannedInstance {
  readonly spec: ServiceSpec;
  /** e.g. "auth-2". */
  readonly id: string;
  /** Its number among its service's instances, from 1. */
  readonly n: number;
  /** Its HTTP port; 0 on free ports. */
  readonly port: number;
  /** Its further ports by name (ExtraPort.name); 0 on free ports. */
  readonly extraPorts: Readonly<Record<string, number>>;
  /** Its start step: discovery's is 0, and a service's is one more than the latest of those it starts after. */
  readonly step: number;
}

/** Which services run, and how many of each. */
export interface PlanOptions {
  /**
   * The services that run besides discovery (which always does), each with its instances (default:
   * the topology's) and settings added to each of its instances. Default: every service as the
   * topology says.
   */
  services?: Readonly<Record<string, ServiceOverride>>;
  /** Fixed ports: each instance's port from the topology plus `offset`. Default: free ports (0). */
  portOffset?: number;
}

export interface ServiceOverride {
  instances?: number;
  env?: Readonly<Record<string, string>>;
}

/** The registry's credentials of a run: a token per service, and discovery's ACL settings granting them. */
export interface RegistryCredentials {
  of(service: string): string;
  discoveryEnv(): Record<string, string>;
}

/** What a run gives every instance (unset: the instance's own default). */
export interface RunSettings {
  /** HOST: the interface each instance listens on. */
  host?: string;
  /** ADVERTISE_ADDRESS: the address instances are reached at. Default 127.0.0.1. */
  advertise?: string;
  serviceSecret?: string;
  operatorToken?: string;
  /** Per-service registry tokens; without, spawnService's test token serves every instance. */
  registry?: RegistryCredentials;
}

/** What a started instance offers the run: its ports, and how to stop it. */
export interface LaunchedInstance {
  readonly port: number;
  /** Its further ports by name, once known (free ports). */
  readonly ports?: Readonly<Record<string, number>>;
  stop(): Promise<unknown>;
}

/** Starts one planned instance with `env` (the system's settings for it); resolves once it can be relied on. */
export type Launch<I extends LaunchedInstance> = (instance: PlannedInstance, env: Record<string, string>) => Promise<I>;

export interface StartSystemOptions extends PlanOptions, RunSettings {
  /** Settings added to every instance, after the system's own and before a service's override. */
  env?: Readonly<Record<string, string>>;
  /** The URL of database `name`, created; default: a fresh test database (testDatabase). */
  database?: (name: string) => Promise<string>;
  /** Instances are killed after this test (default launch). */
  t?: TestContext;
  /** Longest wait for an instance's start (default launch; default spawnService's). */
  startTimeoutMs?: number;
}

/** A running system: its instances, one more of a service, and stop. */
export interface RunningSystem<I extends LaunchedInstance> {
  /** Every instance started, by id, in start order. */
  readonly instances: ReadonlyMap<string, I>;
  /** The instances of `service`, in start order (the same array as more start); empty when it does not run. */
  of(service: string): readonly I[];
  /** URL of database `name`, when a service of the run owns it. */
  databaseUrl(name: string): string | undefined;
  /** Starts one more instance of `service` (the next id) with `env` added last, e.g. a fault to inject. */
  add(service: string, env?: Readonly<Record<string, string>>): Promise<I>;
  /** Stops every instance, the last started first. */
  stop(): Promise<void>;
}

/** A test's instance: the spawned process, its id and its ports by name. */
export type SystemProcess = ServiceProcess & { readonly id: string; readonly ports: Readonly<Record<string, number>> };

/**
 * The instances of a run in start order: each service's instances (the topology's count unless
 * `services` says otherwise), with ports and start steps. Throws when a service needs one that does
 * not run, or on a cycle.
 */
export function planSystem(topology: Topology, options: PlanOptions = {}): PlannedInstance[] {
  for (const name of Object.keys(options.services ?? {})) serviceSpec(topology, name);
  const countOf = (spec: ServiceSpec): number => {
    if (spec.name === REGISTRY) return 1;
    if (!options.services) return spec.instances;
    const override = options.services[spec.name];
    return override ? (override.instances ?? spec.instances) : 0;
  };
  const counts = new Map(topology.services.map((spec) => [spec.name, countOf(spec)]));
  const running = topology.services.filter((spec) => counts.get(spec.name)! > 0);
  const steps = new Map<string, number>();
  const stepOf = (spec: ServiceSpec, path: string[]): number => {
    const known = steps.get(spec.name);
    if (known !== undefined) return known;
    if (path.includes(spec.name)) throw new Error(`the topology's start order has a cycle: ${[...path, spec.name].join(' → ')}`);
    for (const name of startsAfter(spec)) serviceSpec(topology, name);
    for (const need of spec.needs ?? []) {
      if (!counts.get(need)) throw new Error(`${spec.name} needs ${need}, which this run leaves out`);
    }
    const before = startsAfter(spec).filter((name) => counts.get(name)! > 0);
    const step = before.length ? 1 + Math.max(...before.map((name) => stepOf(serviceSpec(topology, name), [...path, spec.name]))) : 0;
    steps.set(spec.name, step);
    return step;
  };
  const planned = running.flatMap((spec) =>
    Array.from({ length: counts.get(spec.name)! }, (_, i) => plannedInstance(spec, i + 1, options.portOffset, stepOf(spec, []))),
  );
  // Stable: the topology's order within a step.
  return planned.sort((a, b) => a.step - b.step);
}

/** Instance `n` of `spec`: its id and ports (fixed ones after `portOffset`, or 0 for free ones). */
export function plannedInstance(spec: ServiceSpec, n: number, portOffset: number | undefined, step = 0): PlannedInstance {
  const fixed = (port: number) => (portOffset === undefined ? 0 : port + n - 1 + portOffset);
  return {
    spec,
    id: `${spec.name}-${n}`,
    n,
    port: fixed(spec.port),
    extraPorts: Object.fromEntries((spec.extraPorts ?? []).map((extra) => [extra.name, fixed(extra.port)])),
    step,
  };
}

/**
 * The settings a run gives `instance`: its port(s), id, where the registry is and its token (or, to
 * discovery, the registry's ACLs), the run's secrets, its database, and what its service's spec adds.
 */
export function systemEnv(
  instance: PlannedInstance,
  place: Place,
  run: RunSettings & { discoveryUrl: string; databaseUrl?: string | undefined },
): Record<string, string> {
  const { spec } = instance;
  const registry = spec.name === REGISTRY;
  const env: Record<string, string | undefined> = {
    PORT: String(instance.port),
    INSTANCE_ID: instance.id,
    HOST: run.host,
    ADVERTISE_ADDRESS: run.advertise,
    SERVICE_SECRET: run.serviceSecret,
    OPERATOR_TOKEN: run.operatorToken,
    ...(registry ? run.registry?.discoveryEnv() : { DISCOVERY_URL: run.discoveryUrl, DISCOVERY_TOKEN: run.registry?.of(spec.name) }),
    DATABASE_URL: spec.database ? run.databaseUrl : undefined,
    ...Object.fromEntries((spec.extraPorts ?? []).map((extra) => [extra.env, String(instance.extraPorts[extra.name])])),
    ...spec.env?.(place),
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Spawns `instance` with spawnService (killed after `t`), and waits for its further ports to be named. */
export async function launchProcess(instance: PlannedInstance, env: Record<string, string>, options: { t?: TestContext; timeoutMs?: number } = {}): Promise<SystemProcess> {
  const started = await spawnService({ entry: instance.spec.entry, env, timeoutMs: options.timeoutMs }, options.t);
  const ports: Record<string, number> = {};
  for (const extra of instance.spec.extraPorts ?? []) {
    const line = await started.waitForLog((l) => l.msg === extra.loggedAs && typeof l.port === 'number');
    ports[extra.name] = line.port as number;
  }
  return { ...started, id: instance.id, ports };
}

/**
 * Starts the system `topology` describes (by default every service as described; `services` picks
 * and sizes them), creating each database first. Resolves once every instance has started
 * (`launch` decides what that means; by default: it logged that it listens).
 */
export async function startSystem<I extends LaunchedInstance = SystemProcess>(
  topology: Topology,
  options: StartSystemOptions & {
    /** How an instance starts; default: launchProcess (its RunningSystem then holds SystemProcesses). */
    launch?: Launch<I>;
  } = {},
): Promise<RunningSystem<I>> {
  const plan = planSystem(topology, options);
  const launch: Launch<I> = options.launch ?? ((instance, env) => launchProcess(instance, env, { t: options.t, timeoutMs: options.startTimeoutMs }) as unknown as Promise<I>);
  const fixedPorts = options.portOffset !== undefined;
  const advertise = options.advertise ?? '127.0.0.1';
  const secrets = new Map<string, string>();
  const instances = new Map<string, I>();
  const byService = new Map<string, I[]>(topology.services.map((spec) => [spec.name, []]));
  const counts = new Map<string, number>();
  for (const instance of plan) counts.set(instance.spec.name, instance.n);

  const place: Place = {
    host: advertise,
    port(service, name = 'http', n = 1) {
      const spec = serviceSpec(topology, service);
      if (n > (counts.get(service) ?? 0)) return undefined;
      if (fixedPorts) {
        const planned = plannedInstance(spec, n, options.portOffset);
        return name === 'http' ? planned.port : planned.extraPorts[name];
      }
      const started = byService.get(service)![n - 1];
      if (!started) throw new Error(`${service}-${n}'s port is not known yet: a service whose settings name it must start after it (needs or after)`);
      return name === 'http' ? started.port : started.ports?.[name];
    },
    secret(name) {
      if (!secrets.has(name)) secrets.set(name, randomBytes(24).toString('base64url'));
      return secrets.get(name)!;
    },
  };

  const database = options.database ?? (async (name: string) => (await testDatabase(`${options.t?.name ?? 'system'}-${name}`)).url);
  const databases = new Map<string, string>();
  const createDatabases = async (specs: readonly ServiceSpec[]) => {
    // One at a time, in the topology's order: a handful, each quick.
    for (const spec of specs) if (spec.database && !databases.has(spec.database)) databases.set(spec.database, await database(spec.database));
  };
  await createDatabases(plan.map((instance) => instance.spec));

  let discoveryUrl = '';
  const envOf = (instance: PlannedInstance, extra: Readonly<Record<string, string>> = {}) => ({
    ...systemEnv(instance, place, { ...options, advertise, discoveryUrl, databaseUrl: instance.spec.database ? databases.get(instance.spec.database) : undefined }),
    ...options.env,
    ...options.services?.[instance.spec.name]?.env,
    ...extra,
  });
  const start = async (instance: PlannedInstance, extra?: Readonly<Record<string, string>>) => {
    const started = await launch(instance, envOf(instance, extra));
    instances.set(instance.id, started);
    const list = byService.get(instance.spec.name)!;
    list[instance.n - 1] = started;
    counts.set(instance.spec.name, Math.max(counts.get(instance.spec.name) ?? 0, instance.n));
    if (instance.spec.name === REGISTRY) discoveryUrl = `http://${advertise}:${started.port}`;
    return started;
  };
  const stop = async () => {
    for (const instance of [...instances.values()].reverse()) await instance.stop();
  };

  try {
    for (const step of new Set(plan.map((instance) => instance.step))) {
      const inStep = plan.filter((instance) => instance.step === step);
      const waiting = inStep.filter((instance) => instance.spec.firstAlone && instance.n > 1);
      await startTogether(inStep.filter((instance) => !waiting.includes(instance)), start);
      await startTogether(waiting, start);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    instances,
    of: (service) => byService.get(serviceSpec(topology, service).name)!,
    databaseUrl: (name) => databases.get(name),
    add: async (service, env) => {
      const spec = serviceSpec(topology, service);
      await createDatabases([spec]);
      const n = byService.get(spec.name)!.length + 1;
      counts.set(spec.name, n);
      return start(plannedInstance(spec, n, options.portOffset), env);
    },
    stop,
  };
}

/** Starts `instances` side by side; every start has ended (or failed) before a failure is thrown. */
async function startTogether(instances: PlannedInstance[], start: (instance: PlannedInstance) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(instances.map((instance) => start(instance)));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}
