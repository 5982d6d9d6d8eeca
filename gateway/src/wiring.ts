// The gateway's parts and how they depend on each other, given what lies outside the process (the
// services' typed clients, the participants, the coordinator's database, the push bus): built the
// same way by buildApp and by the in-process tests, which give fakes for the outside.
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import { ConcurrencyLimiter, Coordinator, type CoordinatorOptions, type SqlClient, type UpstreamClient } from '@notify/lib';
import { Acknowledgements } from './acknowledgements.ts';
import { AvatarVersions } from './avatars.ts';
import type { Config } from './config.ts';
import { ConnectionRegistry } from './connections.ts';
import { CounterReads } from './counter-reads.ts';
import { createGatewayMetrics } from './metrics.ts';
import { UnsubscribeLinks } from './preferences/unsubscribe-links.ts';
import { Publications } from './publications.ts';
import { Inbox } from './inbox.ts';
import { Fanout, type BusMessage } from './push/fanout.ts';
import { Dispatcher } from './rpc/dispatcher.ts';
import { methodTable } from './rpc/methods.ts';
import { Sessions } from './sessions.ts';
import { SubscribersCache } from './subscribers-cache.ts';
import { acknowledgementTransaction } from './transactions/ack.ts';
import { publicationTransaction } from './transactions/publish.ts';
import { readAllTransaction } from './transactions/read-all.ts';
import type { Upstreams } from './upstreams.ts';

export interface GatewayOutside {
  config: Readonly<Config>;
  log: FastifyBaseLogger;
  registry: Registry;
  instanceId: () => string;
  /** The services' typed clients. */
  upstreams: Pick<Upstreams, 'auth' | 'persist' | 'counter' | 'mailer' | 'avatarVersions'>;
  /** Each two-phase-commit participant's client, by service name. */
  participant: (service: string) => UpstreamClient;
  /** The coordinator's log. */
  db: SqlClient;
  /** Joins the push bus: `onMessage` hears every message any gateway publishes; `publish` sends one. */
  joinBus: (onMessage: (message: BusMessage) => Promise<void>) => { publish: (message: BusMessage) => Promise<void> };
  /** This instance's own address once it listens (the unsubscribe links' default). */
  ownUrl?: () => string;
  /** Test seams of the coordinator (FAULT_KILL_*). */
  faults?: Pick<CoordinatorOptions, 'afterPrepare' | 'afterDecision'>;
}

export function wireGateway(d: GatewayOutside) {
  const { config, log, instanceId, upstreams } = d;
  const connections = new ConnectionRegistry({
    authDeadlineMs: config.AUTH_DEADLINE_MS,
    maxPerAddress: config.MAX_CONNECTIONS_PER_ADDRESS,
    maxPerUser: config.MAX_CONNECTIONS_PER_USER,
  });
  // Publishes and acks run a few at a time (their reads and their transaction), the rest in arrival order.
  const admission = new ConcurrencyLimiter({
    maxConcurrent: config.TWO_PC_MAX_CONCURRENT,
    maxQueued: config.TWO_PC_MAX_QUEUED,
    refusal: (_running, queued) => `${queued} transactions are already waiting; try again shortly`,
  });
  const metrics = createGatewayMetrics(d.registry, connections, admission);
  const sessions = new Sessions(upstreams, config, metrics);
  const subscribers = new SubscribersCache(upstreams, config, metrics);
  const avatars = new AvatarVersions({ upstreams, basePath: config.AVATAR_BASE_PATH, ttlMs: config.AVATAR_VERSIONS_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES, log });
  const fanout = new Fanout({ instanceId, connections, sessions, subscribers, avatars, upstreams, metrics, log });
  // Every gateway's fan-out hears what any gateway publishes, this one's included.
  const { publish } = d.joinBus(fanout.handle);

  const counters = new CounterReads(upstreams);
  const ownUrl = () => config.PUBLIC_URL ?? d.ownUrl?.() ?? `http://${config.ADVERTISE_ADDRESS}:${config.PORT}`;
  const unsubscribeLinks = new UnsubscribeLinks(ownUrl, { unsubscribeSecret: config.UNSUBSCRIBE_SECRET, serviceSecret: config.SERVICE_SECRET });
  const publication = publicationTransaction({ publish, upstreams, subscribers, unsubscribeLinks, avatars, log });
  const acknowledgement = acknowledgementTransaction({ publish, counters });
  const readAll = readAllTransaction({ publish, counters });
  const coordinator = new Coordinator({
    db: d.db,
    owner: instanceId,
    leaseMs: config.TWO_PC_LEASE_MS,
    sweepIntervalMs: config.TWO_PC_RECOVERY_INTERVAL_MS,
    participant: d.participant,
    log,
    metrics: d.registry,
    prepareTimeoutMs: config.TWO_PC_PREPARE_TIMEOUT_MS,
    decisionTimeoutMs: config.TWO_PC_DECISION_TIMEOUT_MS,
    retryMaxMs: config.TWO_PC_RETRY_MAX_MS,
    batchesInFlight: config.TWO_PC_BATCHES_IN_FLIGHT,
    batchMaxItems: config.TWO_PC_BATCH_MAX_ITEMS,
    transactions: [publication, acknowledgement, readAll],
    ...d.faults,
  });
  const replies = { coordinator, admission, replyWaitMs: config.TWO_PC_REPLY_WAIT_MS, log };
  const publications = new Publications({ ...replies, transaction: publication, subscribers, upstreams, idempotencyWaitMs: config.IDEMPOTENCY_WAIT_MS, avatars });
  const acknowledgements = new Acknowledgements({ ...replies, transaction: acknowledgement, counters });
  const inbox = new Inbox({ ...replies, readAll, acknowledgement, counters, upstreams });
  const dispatcher = new Dispatcher(methodTable({ upstreams, sessions, connections, publications, acknowledgements, inbox, counters, publish, avatars, traceViewUrl: config.TRACE_VIEW_URL }), {
    maxInflight: config.MAX_INFLIGHT_PER_CONNECTION,
    maxInflightPerUser: config.MAX_INFLIGHT_PER_USER,
    callsPerSecond: config.CALLS_PER_SECOND_PER_USER === 0 ? Infinity : config.CALLS_PER_SECOND_PER_USER,
    callBurst: config.CALL_BURST_PER_USER,
    // As many as a user's connections may hold: a lower cap would refuse calls the flood then sends
    // again at once (refusals cost the gateway; waiting in a paused socket costs it nothing).
    maxWaitingPerUser: config.MAX_CONNECTIONS_PER_USER * config.MAX_INFLIGHT_PER_CONNECTION,
    metrics,
    log,
  });

  return { connections, admission, metrics, sessions, subscribers, avatars, unsubscribeLinks, fanout, publish, counters, publication, acknowledgement, readAll, coordinator, publications, acknowledgements, inbox, dispatcher };
}

export type GatewayParts = ReturnType<typeof wireGateway>;
