// The system, described once: every service, how many instances of it run, their ports, databases,
// what each needs started before it and the settings the system gives it. `npm start`
// (scripts/start.ts), the system tests (gateway/test/helper.ts), the benchmarks (bench/lib/system.ts)
// start it with startSystem(); test/compose-matches-topology.test.ts derives from it what
// docker-compose.yml must contain. A new service, or one more instance, is added here.

/** Where a run puts things, for the settings that point one service at another. */
export interface Place {
  /** The address instances advertise, and reach each other at. */
  readonly host: string;
  /**
   * The port `name` (default: its HTTP port) of instance `n` (default 1) of `service` in this run;
   * undefined when the run has no such instance (then a setting that needs it is left out).
   */
  port(service: string, name?: string, n?: number): number | undefined;
  /** A secret made for this run: the same for every instance that asks for `name`. */
  secret(name: string): string;
}

/** A further port an instance listens on, besides its HTTP one. */
export interface ExtraPort {
  /** Its name in `Place.port`, e.g. "smtp". */
  readonly name: string;
  /** The setting that gives it to the instance. */
  readonly env: string;
  /** On one machine, before PORT_OFFSET. */
  readonly port: number;
  /** On free ports (tests) the instance is given 0 and names the bound port in this log line (`port`). */
  readonly loggedAs: string;
}

export interface ServiceSpec {
  /** Its name in discovery; instance n is `<name>-<n>`. */
  readonly name: string;
  /** Entry point, relative to the repository root (`<workspace>/src/server.ts` for a deployed service). */
  readonly entry: string;
  /** HTTP port of instance 1, on one machine and in compose; instance n listens on port + n − 1. */
  readonly port: number;
  /** Instances on one machine (`npm start`). */
  readonly instances: number;
  /** In compose: as many instances (default: `instances`), or a stand-in image that does its job instead. */
  readonly compose?: { readonly instances: number } | { readonly standIn: string };
  /** Its own database on the shared PostgreSQL server (and compose's role of that name). */
  readonly database?: string;
  /**
   * Services it cannot start without, which start (and listen) before it: compose's depends_on.
   * The registry (discovery) and, for a database owner, PostgreSQL are implied.
   */
  readonly needs?: readonly string[];
  /** Services started before it so that its first calls find them, though it starts without them (not a compose dependency). */
  readonly after?: readonly string[];
  /**
   * Settings the system gives every instance of it, beyond those every instance gets (see
   * systemEnv in start-system.ts); undefined values are left out. Compose sets the same keys, with
   * a deployment's values.
   */
  readonly env?: (place: Place) => Readonly<Record<string, string | undefined>>;
  /** Of those settings, the secrets, with the variable a deployment must set for each (compose refuses to start without it). */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly extraPorts?: readonly ExtraPort[];
  /** Instance 1 starts alone, the others once it listens: it installs what they share (the mail queue's schema). */
  readonly firstAlone?: boolean;
  /** What the banner says instance 1 is for. */
  readonly title: string;
  /** What it says for the other instances (default: `title`). */
  readonly laterTitle?: string;
}

export interface Topology {
  /** Every service, discovery first; in this order where the start order leaves a choice. */
  readonly services: readonly ServiceSpec[];
  /**
   * What runs beside the services and is not this repository's code, one of each: the name compose
   * gives it, and how a run on one machine has it.
   */
  readonly infrastructure: Readonly<Record<string, string>>;
}

const url = (scheme: string, host: string, port: number | undefined) => (port === undefined ? undefined : `${scheme}://${host}:${port}`);

/** The registry every other instance registers with and finds the others in. */
const DISCOVERY: ServiceSpec = {
  name: 'discovery',
  entry: 'discovery/src/server.ts',
  port: 8000,
  instances: 1,
  title: 'service registry (Consul HTTP API)',
};

export const TOPOLOGY: Topology = {
  services: [
    DISCOVERY,
    {
      name: 'auth',
      entry: 'auth/src/server.ts',
      port: 5000,
      instances: 2,
      database: 'auth',
      // Clients reach auth through a gateway on this machine, whose X-Forwarded-For names them
      // (compose: the gateways on its network, `uniquelocal`). The nodes prove their cache
      // replication to each other with a secret shared by the run.
      env: ({ secret }) => ({ REPLICATION_SECRET: secret('auth-replication'), TRUST_PROXY: 'loopback' }),
      secrets: { REPLICATION_SECRET: 'AUTH_REPLICATION_SECRET' },
      title: 'users, passwords, sessions (REST; replicated session cache)',
    },
    // Two instances of each two-phase-commit participant: one dying costs no publish or ack.
    {
      name: 'counter',
      entry: 'counter/src/server.ts',
      port: 2000,
      instances: 2,
      database: 'counter',
      title: 'unread counters (two-phase-commit participant)',
      laterTitle: 'counter node',
    },
    {
      name: 'persist',
      entry: 'persist/src/server.ts',
      port: 6000,
      instances: 2,
      database: 'persist',
      title: 'topics, subscriptions, notifications (two-phase-commit participant)',
      laterTitle: 'persist node',
    },
    {
      name: 'smtp-sink',
      entry: 'mailer/src/smtp-sink/server.ts',
      port: 8025,
      instances: 1,
      // Compose runs Mailpit, an SMTP sink with a web view, instead.
      compose: { standIn: 'mailpit' },
      extraPorts: [{ name: 'smtp', env: 'SMTP_PORT', port: 2525, loggedAs: 'smtp-sink receiving SMTP' }],
      title: 'the mail sent, as a page (receives SMTP on 2525 + PORT_OFFSET)',
    },
    {
      name: 'mailer',
      entry: 'mailer/src/server.ts',
      port: 7000,
      instances: 4,
      database: 'mailer',
      needs: ['smtp-sink'],
      firstAlone: true,
      // Four nodes share the database: small pools (a worker holds at most one connection at a time).
      // The emails link to the client when the run has one (otherwise the mailer's default).
      env: ({ host, port }) => ({ SMTP_URL: url('smtp', host, port('smtp-sink', 'smtp')), CLIENT_URL: url('http', host, port('client')), DB_POOL_SIZE: '6' }),
      title: 'email cluster: welcome and notification emails (durable queue, 4 nodes)',
      laterTitle: 'email node',
    },
    {
      name: 'avatar',
      entry: 'avatar/src/server.ts',
      port: 9000,
      instances: 1,
      database: 'avatar',
      title: 'avatars (sharp): generated ones and uploaded pictures, as cached variants; the gateway proxies /avatars/…',
    },
    {
      name: 'gateway',
      entry: 'gateway/src/server.ts',
      port: 4000,
      instances: 1,
      // Two in compose: they share the coordinator log and the push bus in one database.
      compose: { instances: 2 },
      database: 'gateway',
      // Its first calls go to these; it would start without them, and find them when they register.
      after: ['auth', 'persist', 'counter'],
      // The emails' one-click unsubscribe links point at it, signed with a key every gateway of the run shares.
      env: ({ secret }) => ({ UNSUBSCRIBE_SECRET: secret('gateway-unsubscribe') }),
      secrets: { UNSUBSCRIBE_SECRET: 'GATEWAY_UNSUBSCRIBE_SECRET' },
      title: 'the clients’ door: socket.io at /socket.io/, JSON-RPC at ws://…/ws (2PC coordinator, pushes)',
    },
    {
      name: 'client',
      entry: 'client/src/server.ts',
      port: 3333,
      instances: 1,
      // GATEWAY_URL is where the browser finds the gateway: named once the gateway's port is known.
      after: ['gateway'],
      env: ({ host, port }) => ({ GATEWAY_URL: url('http', host, port('gateway')) }),
      title: 'the React client: open this one in a browser',
    },
  ],
  infrastructure: {
    postgres: 'one PostgreSQL server holding every database (npm start: embedded, or DATABASE_URL)',
    prometheus: 'scrapes every instance it finds through discovery (npm start: when its binary is installed)',
    grafana: 'boards over Prometheus, traces in Jaeger and logs in Loki (compose only)',
    'postgres-exporter': "PostgreSQL's own statistics for Prometheus (compose only)",
    alertmanager: "sends Prometheus's alerts to a webhook (compose only)",
    jaeger: "receives every service's traces over OTLP (compose only)",
    loki: "the containers' logs (compose only, profile `logs`)",
    alloy: "ships the containers' logs to Loki (compose only, profile `logs`)",
  },
};

/** The spec of service `name` in `topology`; throws on an unknown name. */
export function serviceSpec(topology: Topology, name: string): ServiceSpec {
  const spec = topology.services.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`no service ${JSON.stringify(name)} in the topology (known: ${topology.services.map((s) => s.name).join(', ')})`);
  return spec;
}

/** What the banner says instance `n` of `spec` is for. */
export const titleOf = (spec: ServiceSpec, n: number): string => (n === 1 ? spec.title : (spec.laterTitle ?? spec.title));

/** The services that `spec` starts after: the registry, what it needs and what it comes after. */
export const startsAfter = (spec: ServiceSpec): readonly string[] => (spec.name === DISCOVERY.name ? [] : [DISCOVERY.name, ...(spec.needs ?? []), ...(spec.after ?? [])]);

/** The registry's service name: every other service registers with it. */
export const REGISTRY = DISCOVERY.name;

// ---- The same system in compose (docker-compose.yml); test/compose-matches-topology.test.ts holds compose to it ----

/** Instances of `spec` compose runs: 0 when a stand-in does its job. */
export function composeInstances(spec: ServiceSpec): number {
  if (!spec.compose) return spec.instances;
  return 'standIn' in spec.compose ? 0 : spec.compose.instances;
}

/** Compose's names for what does the job of `spec`: its instances (`auth-1`, `auth-2`; a single one by the service's name), or its stand-in. */
export function composeNames(spec: ServiceSpec): string[] {
  if (spec.compose && 'standIn' in spec.compose) return [spec.compose.standIn];
  const count = composeInstances(spec);
  return Array.from({ length: count }, (_, i) => (count === 1 ? spec.name : `${spec.name}-${i + 1}`));
}

/** What an instance of `spec` depends on in compose (each healthy first): the registry, PostgreSQL for a database owner, and what it needs. */
export function composeDependsOn(topology: Topology, spec: ServiceSpec): string[] {
  if (spec.name === REGISTRY) return [];
  return [REGISTRY, ...(spec.database ? ['postgres'] : []), ...(spec.needs ?? []).flatMap((need) => composeNames(serviceSpec(topology, need)))];
}

/** `AUTH_DISCOVERY_TOKEN` for ("auth", "DISCOVERY_TOKEN"). */
const variable = (owner: string, what: string) => `${owner.toUpperCase().replaceAll('-', '_')}_${what}`;

/**
 * The secrets a deployment gives each instance of `spec`: setting → the variables compose requires
 * for it (and refuses to start without). Every instance: the deployment's SERVICE_SECRET and
 * OPERATOR_TOKEN, its service's registry token (discovery: the registry's management token, every
 * service's token and Prometheus's read token), its database role's password, and what its spec adds.
 */
export function deploymentSecrets(topology: Topology, spec: ServiceSpec): Record<string, readonly string[]> {
  const registered = topology.services.filter((other) => other.name !== REGISTRY && composeInstances(other) > 0);
  return {
    SERVICE_SECRET: ['SERVICE_SECRET'],
    OPERATOR_TOKEN: ['OPERATOR_TOKEN'],
    ...(spec.name === REGISTRY
      ? {
          ACL_MANAGEMENT_TOKEN: [variable(REGISTRY, 'MANAGEMENT_TOKEN')],
          ACL_SERVICE_TOKENS: registered.map((other) => variable(other.name, 'DISCOVERY_TOKEN')),
          ACL_READ_TOKENS: [variable('prometheus', 'DISCOVERY_TOKEN')],
        }
      : { DISCOVERY_TOKEN: [variable(spec.name, 'DISCOVERY_TOKEN')] }),
    ...(spec.database ? { DATABASE_URL: [variable(spec.database, 'DB_PASSWORD')] } : {}),
    ...Object.fromEntries(Object.entries(spec.secrets ?? {}).map(([setting, name]) => [setting, [name]])),
  };
}
