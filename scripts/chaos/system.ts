// The system the chaos run attacks: its own durable PostgreSQL (synchronous commit on) and every
// service as a separate process on free ports: discovery, auth ×2, persist ×2, counter ×2,
// gateway ×2. Any instance, or PostgreSQL, can be killed with SIGKILL and started again the same
// way (same id, port and database). Each instance names itself to PostgreSQL (application_name),
// so the connections each one holds can be sampled.
import { startKillablePostgres, spawnService, type KillablePostgres, type ServiceProcess } from '../../lib/src/testing/index.ts';

export type Kind = 'discovery' | 'auth' | 'persist' | 'counter' | 'gateway';

export interface Instance {
  id: string;
  kind: Kind;
  /** The most PostgreSQL connections this instance may hold: its pools, plus one for migrating at start. */
  connectionBudget: number;
  current: ServiceProcess | undefined;
  port: number;
}

/** Pool sizes the run gives each service (small, so the budget check is tight). */
export const POOL_SIZE = 5;
/** What the gateway holds besides its pool: the push bus's pool (4) and its LISTEN connection (1). */
const GATEWAY_EXTRA = 5;

const ENTRY: Record<Kind, string> = {
  discovery: 'discovery/src/server.ts',
  auth: 'auth/src/server.ts',
  persist: 'persist/src/server.ts',
  counter: 'counter/src/server.ts',
  gateway: 'gateway/src/server.ts',
};
const DATABASE: Partial<Record<Kind, string>> = { auth: 'auth', persist: 'persist', counter: 'counter', gateway: 'gateway' };

export interface ChaosSystem {
  postgres: KillablePostgres;
  instances: Instance[];
  urlFor(database: string, applicationName?: string): string;
  gateways(): Instance[];
  /** Error lines (level ≥ 50) every instance logged, "<kind>: <msg>" → how many. */
  errorLines(): Map<string, number>;
  /** SIGKILL; resolves once the process is gone. */
  kill(instance: Instance): Promise<void>;
  /** Starts it again (same id, port, database); resolves once it listens. */
  start(instance: Instance): Promise<void>;
  stop(): Promise<void>;
}

export async function startChaosSystem(options: { counts?: Partial<Record<Kind, number>> } = {}): Promise<ChaosSystem> {
  const postgres = await startKillablePostgres();
  for (const database of Object.values(DATABASE)) await postgres.createDatabase(database);
  const urlFor = (database: string, applicationName?: string) => `${postgres.urlFor(database)}${applicationName ? `?application_name=${encodeURIComponent(applicationName)}` : ''}`;
  const counts: Record<Kind, number> = { discovery: 1, auth: 2, persist: 2, counter: 2, gateway: 2, ...options.counts };
  const instances: Instance[] = [];
  let discoveryUrl = '';

  const envOf = (instance: Instance): Record<string, string> => {
    const database = DATABASE[instance.kind];
    return {
      PORT: String(instance.port),
      INSTANCE_ID: instance.id,
      LOG_LEVEL: 'info',
      DRAIN_DELAY_MS: '0',
      ...(instance.kind === 'discovery' ? {} : { DISCOVERY_URL: discoveryUrl }),
      ...(database ? { DATABASE_URL: urlFor(database, instance.id), DB_POOL_SIZE: String(POOL_SIZE) } : {}),
      ...(instance.kind === 'auth' ? { TRUST_PROXY: 'loopback', PASSWORD_MEMORY_KIB: '1024', PASSWORD_ITERATIONS: '1', WELCOME_EMAILS: 'false', REPLICATION_SECRET: 'chaos-run-secret' } : {}),
    };
  };
  const start = async (instance: Instance) => {
    instance.current = await spawnService({ entry: ENTRY[instance.kind], env: envOf(instance), timeoutMs: 120_000 });
    instance.port = instance.current.port;
  };
  /** Error lines of processes already killed; the live ones' are added when asked. */
  const errors = new Map<string, number>();
  const collect = (instance: Instance, into = errors) => {
    for (const line of instance.current?.logs ?? []) {
      if (typeof line.level !== 'number' || line.level < 50) continue;
      const err = line.err as { message?: string } | undefined;
      const key = `${instance.kind}: ${String(line.msg)}${err?.message ? ` (${err.message.slice(0, 120)})` : ''}`;
      into.set(key, (into.get(key) ?? 0) + 1);
    }
  };
  const kill = async (instance: Instance) => {
    await instance.current?.stop('SIGKILL');
    collect(instance);
    instance.current = undefined;
  };

  const stop = async () => {
    for (const instance of [...instances].reverse()) await kill(instance);
    await postgres.stop();
  };
  try {
    for (const kind of ['discovery', 'auth', 'persist', 'counter', 'gateway'] as const) {
      const created: Instance[] = Array.from({ length: counts[kind] }, (_, i) => ({
        id: `${kind}-${i + 1}`,
        kind,
        connectionBudget: DATABASE[kind] ? POOL_SIZE + (kind === 'gateway' ? GATEWAY_EXTRA : 0) + 1 : 0,
        current: undefined,
        port: 0,
      }));
      instances.push(...created);
      // allSettled: every start has ended (or failed) before a failure stops the others.
      const started = await Promise.allSettled(created.map(start));
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      if (kind === 'discovery') discoveryUrl = created[0]!.current!.url;
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    postgres,
    instances,
    urlFor,
    gateways: () => instances.filter((instance) => instance.kind === 'gateway'),
    kill,
    start,
    errorLines() {
      const all = new Map(errors);
      for (const instance of instances) collect(instance, all);
      return all;
    },
    stop,
  };
}
