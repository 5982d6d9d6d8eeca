// buildApp(config): the gateway on the shared kit. Both transports on one port and one method
// table, upstream clients, the two-phase-commit coordinator on the gateway's own database, the
// push bus shared by every gateway instance. Never listens by itself.
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import pg from 'pg';
import { ConcurrencyLimiter, Coordinator, coordinatorRoutes, createService, type CoordinatorOptions, type Service } from '@notify/lib';
import { attachDatabase } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';
import { avatarProxy } from './avatar-proxy.ts';
import { ConnectionRegistry } from './connections.ts';
import { CounterReads } from './counter-reads.ts';
import { createGatewayMetrics } from './metrics.ts';
import { PushBus } from './push/bus.ts';
import { Fanout, type BusMessage } from './push/fanout.ts';
import { Dispatcher } from './rpc/dispatcher.ts';
import { methodTable } from './rpc/methods.ts';
import { Sessions } from './sessions.ts';
import { SubscribersCache } from './subscribers-cache.ts';
import { Acknowledgements } from './acknowledgements.ts';
import { acknowledgementTransaction } from './transactions/ack.ts';
import { Publications } from './publications.ts';
import { publicationTransaction } from './transactions/publish.ts';
import { jsonRpcRoutes } from './transports/json-rpc.ts';
import { attachSocketIo } from './transports/socket-io.ts';
import { Upstreams } from './upstreams.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');
/** The two-phase-commit participants: the only services that may ask the coordinator about a transaction. */
const TWO_PC_PARTICIPANTS = ['persist', 'counter'] as const;

export interface GatewayApp {
  /** `service.listen()` creates the database if missing, applies migrations, joins the push bus, listens, then finishes transactions left in doubt. */
  service: Service;
  connections: ConnectionRegistry;
}

export function buildApp(config: Readonly<Config>): GatewayApp {
  const service = createService({ name: 'gateway', config, defaultCallers: 'public' });
  const { db } = attachDatabase(service, { PrismaClient, url: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE, migrationsDir: MIGRATIONS_DIR });
  // The bus's own small pool: NOTIFY and the outbox never queue behind the coordinator's log writes.
  const busPool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 4 });
  busPool.on('error', (error) => service.log.warn({ err: error }, 'push bus pool connection lost'));

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
  const metrics = createGatewayMetrics(service.metrics, connections, admission);
  const upstreams = new Upstreams(service, config);
  const sessions = new Sessions(upstreams, config, metrics);
  const subscribers = new SubscribersCache(upstreams, config, metrics);
  const fanout = new Fanout({ instanceId: () => service.instanceId, connections, sessions, subscribers, upstreams, metrics, log: service.log });
  const bus = new PushBus<BusMessage>({ url: config.DATABASE_URL, channel: config.PUSH_CHANNEL, pool: busPool, log: service.log, onMessage: fanout.handle });
  const publish = (message: BusMessage) => bus.publish(message);
  // At shutdown, after the bus has stopped delivering and before the upstream clients close.
  service.onClose(() => fanout.drain());

  const counters = new CounterReads(upstreams);
  const publication = publicationTransaction({ publish, upstreams, subscribers, log: service.log });
  const acknowledgement = acknowledgementTransaction({ publish, counters });
  const coordinator = new Coordinator({
    db,
    owner: () => service.instanceId,
    leaseMs: config.TWO_PC_LEASE_MS,
    sweepIntervalMs: config.TWO_PC_RECOVERY_INTERVAL_MS,
    participant: (name) => upstreams.client(name),
    log: service.log,
    metrics: service.metrics,
    prepareTimeoutMs: config.TWO_PC_PREPARE_TIMEOUT_MS,
    decisionTimeoutMs: config.TWO_PC_DECISION_TIMEOUT_MS,
    retryMaxMs: config.TWO_PC_RETRY_MAX_MS,
    batchesInFlight: config.TWO_PC_BATCHES_IN_FLIGHT,
    batchMaxItems: config.TWO_PC_BATCH_MAX_ITEMS,
    transactions: [publication, acknowledgement],
    ...faultKills(service, config),
  });
  const replies = { coordinator, admission, replyWaitMs: config.TWO_PC_REPLY_WAIT_MS, log: service.log };
  const publications = new Publications({ ...replies, transaction: publication, subscribers });
  const acknowledgements = new Acknowledgements({ ...replies, transaction: acknowledgement, counters });
  const dispatcher = new Dispatcher(methodTable({ upstreams, sessions, connections, publications, acknowledgements, counters, publish }), {
    maxInflight: config.MAX_INFLIGHT_PER_CONNECTION,
    maxInflightPerUser: config.MAX_INFLIGHT_PER_USER,
    callsPerSecond: config.CALLS_PER_SECOND_PER_USER === 0 ? Infinity : config.CALLS_PER_SECOND_PER_USER,
    callBurst: config.CALL_BURST_PER_USER,
    // As many as a user's connections may hold: a lower cap would refuse calls the flood then sends
    // again at once (refusals cost the gateway; waiting in a paused socket costs it nothing).
    maxWaitingPerUser: config.MAX_CONNECTIONS_PER_USER * config.MAX_INFLIGHT_PER_CONNECTION,
    metrics,
    log: service.log,
  });

  // Started in order by the kit: the database (attachDatabase), the bus, a first answer from
  // discovery about each upstream; then the port; then the transactions left in doubt.
  service.onPrepare(() => bus.start());
  service.onPrepare(() => upstreams.ready());
  service.onStart(async () => {
    const inDoubt = await coordinator.recover();
    if (inDoubt) service.log.info({ inDoubt }, 'finishing transactions left in doubt by the previous run');
  });

  service.addDependency('push-bus', () => (bus.isConnected ? { state: 'up' } : { state: 'down', detail: 'not listening; pushes from other gateways are missed' }), {
    required: false,
  });
  service.onClose(async () => {
    await bus.close();
    await busPool.end();
  });
  service.onClose(() => coordinator.stop());

  const transport = { dispatcher, connections, sessions, metrics, maxConnections: config.MAX_CONNECTIONS, maxUnreadBytes: config.MAX_UNREAD_BYTES };
  void service.app.register(websocket, { options: { maxPayload: config.MAX_FRAME_BYTES } });
  void service.app.register(async (app) => jsonRpcRoutes(app, transport));
  attachSocketIo(service.app, { ...transport, maxFrameBytes: config.MAX_FRAME_BYTES });
  void service.app.register(async (app) => coordinatorRoutes(app, { coordinator, participants: TWO_PC_PARTICIPANTS }));
  void service.app.register(async (app) => avatarProxy(app, { upstreams, basePath: config.AVATAR_BASE_PATH, timeoutMs: config.AVATAR_TIMEOUT_MS }));

  return { service, connections };
}

/**
 * FAULT_KILL_AFTER_DECISION and FAULT_KILL_MID_PREPARE: die like a crash (no close, no flush) once
 * a decision is durable, or once a batch's prepares are answered and nothing is decided, on the
 * first batch of at least FAULT_KILL_BATCH_MIN transactions.
 */
function faultKills(service: Service, config: Readonly<Config>): Pick<CoordinatorOptions, 'afterPrepare' | 'afterDecision'> {
  const kill = (txIds: string[], reason: string) => {
    service.log.warn({ txIds }, reason);
    process.kill(process.pid, 'SIGKILL');
  };
  /** Transactions of a batch big enough to fire on. */
  const armed = new Set<string>();
  return {
    ...(config.FAULT_KILL_AFTER_DECISION || config.FAULT_KILL_MID_PREPARE
      ? {
          afterPrepare: (txIds: string[]) => {
            if (txIds.length < config.FAULT_KILL_BATCH_MIN) return;
            if (config.FAULT_KILL_MID_PREPARE) kill(txIds, 'FAULT_KILL_MID_PREPARE: SIGKILL between the prepares and the decision');
            for (const txId of txIds) armed.add(txId);
          },
        }
      : {}),
    ...(config.FAULT_KILL_AFTER_DECISION
      ? {
          afterDecision: (txId: string) => {
            if (armed.has(txId)) kill([txId], 'FAULT_KILL_AFTER_DECISION: SIGKILL between decision and phase 2');
          },
        }
      : {}),
  };
}
