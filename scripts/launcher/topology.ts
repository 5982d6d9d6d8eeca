// What `npm start` runs: every service instance, its port, its database and how a person reaches it.
// A new service adds its instances here.
import { randomBytes } from 'node:crypto';

/** Shared by the auth nodes of one run to authenticate their cache replication to each other. */
const AUTH_REPLICATION_SECRET = randomBytes(24).toString('base64url');
/** SMTP port of the sink that receives the mailers' email (its page is on 8025). */
export const SMTP_SINK_PORT = 2525;

/** Where this run puts things: `port(n)` is port n after PORT_OFFSET; `host` the advertised address. */
export interface Place {
  port(port: number): number;
  host: string;
}

export interface InstanceSpec {
  /** Service name in discovery. */
  service: string;
  /** Instance id in discovery and label in logs, e.g. "auth-2". */
  id: string;
  /** Entry point, relative to the repository root. */
  entry: string;
  port: number;
  /** Name of the service's own database on the shared server, when it owns one. */
  database?: string;
  /** Extra environment for this instance; a function gets where things are: a port after PORT_OFFSET, and the advertised host. */
  env?: Record<string, string> | ((place: Place) => Record<string, string>);
  /** What the banner says this instance is for. */
  title: string;
  /** `npm start` only, not a deployment's service (compose runs a real equivalent instead). */
  localOnly?: boolean;
}

export const DISCOVERY: InstanceSpec = {
  service: 'discovery',
  id: 'discovery-1',
  entry: 'discovery/src/server.ts',
  port: 8000,
  title: 'service registry (Consul HTTP API)',
};

/** Instances started after discovery, in order. */
export const SERVICES: InstanceSpec[] = [
  ...[1, 2].map((n) => ({
    service: 'auth',
    id: `auth-${n}`,
    entry: 'auth/src/server.ts',
    port: 4999 + n,
    database: 'auth',
    // Clients reach auth through the gateway on this machine: its X-Forwarded-For names them.
    env: { REPLICATION_SECRET: AUTH_REPLICATION_SECRET, TRUST_PROXY: 'loopback' },
    title: 'users, passwords, sessions (REST; replicated session cache)',
  })),
  // Two instances of each two-phase-commit participant: one dying costs no publish or ack.
  ...[1, 2].map((n) => ({
    service: 'counter',
    id: `counter-${n}`,
    entry: 'counter/src/server.ts',
    port: 1999 + n,
    database: 'counter',
    title: n === 1 ? 'unread counters (two-phase-commit participant)' : 'counter node',
  })),
  ...[1, 2].map((n) => ({
    service: 'persist',
    id: `persist-${n}`,
    entry: 'persist/src/server.ts',
    port: 5999 + n,
    database: 'persist',
    title: n === 1 ? 'topics, subscriptions, notifications (two-phase-commit participant)' : 'persist node',
  })),
  {
    service: 'smtp-sink',
    id: 'smtp-sink-1',
    entry: 'mailer/src/smtp-sink/server.ts',
    port: 8025,
    env: ({ port }) => ({ SMTP_PORT: String(port(SMTP_SINK_PORT)) }),
    // compose runs Mailpit, an SMTP sink with a web view, instead.
    localOnly: true,
    title: `the mail sent, as a page (receives SMTP on ${SMTP_SINK_PORT} + PORT_OFFSET)`,
  },
  ...[1, 2, 3, 4].map((n) => ({
    service: 'mailer',
    id: `mailer-${n}`,
    entry: 'mailer/src/server.ts',
    port: 6999 + n,
    database: 'mailer',
    // Four nodes share the database: small pools (a worker holds at most one connection at a time).
    env: ({ port, host }: Place) => ({ SMTP_URL: `smtp://${host}:${port(SMTP_SINK_PORT)}`, CLIENT_URL: `http://${host}:${port(3333)}`, DB_POOL_SIZE: '6' }),
    title: n === 1 ? 'email cluster: welcome and notification emails (durable queue, 4 nodes)' : 'email node',
  })),
  {
    service: 'avatar',
    id: 'avatar-1',
    entry: 'avatar/src/server.ts',
    port: 9000,
    title: 'PNG avatars (sharp), cached; the gateway proxies /avatars/…',
  },
  {
    service: 'gateway',
    id: 'gateway-1',
    entry: 'gateway/src/server.ts',
    port: 4000,
    database: 'gateway',
    title: 'the clients’ door: socket.io at /socket.io/, JSON-RPC at ws://…/ws (2PC coordinator, pushes)',
  },
  {
    service: 'client',
    id: 'client-1',
    entry: 'client/src/server.ts',
    port: 3333,
    env: ({ port, host }) => ({ GATEWAY_URL: `http://${host}:${port(4000)}` }),
    title: 'the React client: open this one in a browser',
  },
];
