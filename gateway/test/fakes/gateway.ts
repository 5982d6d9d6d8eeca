// The gateway in one process for tests: its real components (dispatcher and method table,
// sessions, caches, counter reads, fan-out, publications and acknowledgements, the kit's
// Coordinator with the gateway's transaction definitions) wired as buildApp wires them, over fake
// upstreams, fake participants and a push bus that delivers to this instance only. No sockets, no
// processes; the coordinator's log is a real PostgreSQL database when a test asks for one.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { Registry } from 'prom-client';
import { ConcurrencyLimiter, Coordinator, createError, loadConfig, type SqlClient } from '@notify/lib';
import { testDatabase } from '@notify/lib/testing';
import { configSchema } from '../../src/config.ts';
import { ConnectionRegistry } from '../../src/connections.ts';
import { CounterReads } from '../../src/counter-reads.ts';
import { createGatewayMetrics } from '../../src/metrics.ts';
import { Fanout, type BusMessage } from '../../src/push/fanout.ts';
import { Dispatcher } from '../../src/rpc/dispatcher.ts';
import { methodTable } from '../../src/rpc/methods.ts';
import { Sessions } from '../../src/sessions.ts';
import { SubscribersCache } from '../../src/subscribers-cache.ts';
import { acknowledgementTransaction, Acknowledgements } from '../../src/transactions/ack.ts';
import { Publications, publicationTransaction } from '../../src/transactions/publish.ts';
import { fakeConnection, sessionOf, type FakeConnection } from './connections.ts';
import { recordingLogger } from './logger.ts';
import { FakeParticipants } from './participants.ts';
import { fakeUpstreams } from './upstreams.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'prisma', 'migrations');
export const INSTANCE_ID = 'gateway-in-process';

export interface InProcessOptions {
  /** Gateway environment over the test defaults (connection limits, cache lifetimes, 2PC timings). */
  env?: Record<string, string>;
  /**
   * A real database for the coordinator's log (a fresh one on the run's PostgreSQL, the gateway's
   * migrations applied). Without it, publishes and acks fail with UNAVAILABLE.
   */
  database?: boolean;
}

export async function inProcessGateway(t: TestContext, options: InProcessOptions = {}) {
  const config = loadConfig(configSchema, {
    SERVICE_SECRET: 'in-process-gateway-tests-secret-0123456789',
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    AUTH_DEADLINE_MS: '0',
    TWO_PC_RETRY_MAX_MS: '100',
    ...options.env,
  });
  const log = recordingLogger();
  const registry = new Registry();
  const upstreams = fakeUpstreams();
  const participants = new FakeParticipants();

  const connections = new ConnectionRegistry({ authDeadlineMs: config.AUTH_DEADLINE_MS, maxPerAddress: config.MAX_CONNECTIONS_PER_ADDRESS, maxPerUser: config.MAX_CONNECTIONS_PER_USER });
  const admission = new ConcurrencyLimiter({ maxConcurrent: config.TWO_PC_MAX_CONCURRENT, maxQueued: config.TWO_PC_MAX_QUEUED, refusal: () => 'too many transactions waiting' });
  const metrics = createGatewayMetrics(registry, connections, admission);
  const sessions = new Sessions(upstreams.clients, config, metrics);
  const subscribers = new SubscribersCache(upstreams.clients, config, metrics);
  const fanout = new Fanout({ instanceId: () => INSTANCE_ID, connections, sessions, subscribers, upstreams: upstreams.clients, metrics, log });

  /** Every message published on the bus, in order; each is also handled here at once, as the bus does. */
  const bus: BusMessage[] = [];
  const publish = async (message: BusMessage) => {
    bus.push(message);
    try {
      await fanout.handle(message);
    } catch (error) {
      log.error({ err: error }, 'push bus handler failed');
    }
  };

  const counters = new CounterReads(upstreams.clients);
  const publication = publicationTransaction({ publish, upstreams: upstreams.clients, subscribers, log });
  const acknowledgement = acknowledgementTransaction({ publish, counters });
  const database = options.database ? await coordinatorDatabase(t) : undefined;
  const coordinator = new Coordinator({
    db: database?.db ?? NO_DATABASE,
    owner: () => INSTANCE_ID,
    leaseMs: config.TWO_PC_LEASE_MS,
    sweepIntervalMs: config.TWO_PC_RECOVERY_INTERVAL_MS,
    participant: participants.participant,
    log,
    metrics: registry,
    prepareTimeoutMs: config.TWO_PC_PREPARE_TIMEOUT_MS,
    decisionTimeoutMs: config.TWO_PC_DECISION_TIMEOUT_MS,
    retryMaxMs: config.TWO_PC_RETRY_MAX_MS,
    batchesInFlight: config.TWO_PC_BATCHES_IN_FLIGHT,
    batchMaxItems: config.TWO_PC_BATCH_MAX_ITEMS,
    transactions: [publication, acknowledgement],
  });
  const replies = { coordinator, admission, replyWaitMs: config.TWO_PC_REPLY_WAIT_MS, log };
  const publications = new Publications({ ...replies, transaction: publication, subscribers });
  const acknowledgements = new Acknowledgements({ ...replies, transaction: acknowledgement, counters });
  const dispatcher = new Dispatcher(methodTable({ upstreams: upstreams.clients, sessions, connections, publications, acknowledgements, counters, publish }), {
    maxInflight: config.MAX_INFLIGHT_PER_CONNECTION,
    maxInflightPerUser: config.MAX_INFLIGHT_PER_USER,
    callsPerSecond: config.CALLS_PER_SECOND_PER_USER === 0 ? Infinity : config.CALLS_PER_SECOND_PER_USER,
    callBurst: config.CALL_BURST_PER_USER,
    maxWaitingPerUser: config.MAX_CONNECTIONS_PER_USER * config.MAX_INFLIGHT_PER_CONNECTION,
    metrics,
    log,
  });

  // In buildApp's order: the coordinator stops, the fan-out's bookkeeping drains, then the pool closes.
  t.after(async () => {
    await coordinator.stop();
    await fanout.drain();
    await database?.close();
  });

  return {
    config,
    log,
    registry,
    metrics,
    upstreams,
    participants,
    connections,
    sessions,
    subscribers,
    counters,
    fanout,
    bus,
    publication,
    acknowledgement,
    coordinator,
    publications,
    acknowledgements,
    dispatcher,
    /** The coordinator's log (the `database` option only). */
    sql: database?.db,
    /** A new connection in the registry, with `userId`'s session when given (as a handshake token would). */
    connect(userId?: string, connectionOptions: Parameters<typeof fakeConnection>[0] = {}): FakeConnection {
      const connection = fakeConnection(connectionOptions);
      connections.add(connection);
      if (userId !== undefined) connections.setSession(connection, sessionOf(userId));
      return connection;
    },
  };
}

export type InProcessGateway = Awaited<ReturnType<typeof inProcessGateway>>;

/** The coordinator of a test without a database: every log write fails, so publishes and acks answer UNAVAILABLE. */
const NO_DATABASE: SqlClient = {
  $queryRawUnsafe: () => Promise.reject(createError({ code: 'UNAVAILABLE', message: 'this in-process test has no database (inProcessGateway({ database: true }))' })),
  $executeRawUnsafe: () => Promise.reject(createError({ code: 'UNAVAILABLE', message: 'this in-process test has no database (inProcessGateway({ database: true }))' })),
};

/** A fresh database with the gateway's migrations, reached through a small pg pool with the SqlClient face the coordinator uses. */
async function coordinatorDatabase(t: TestContext): Promise<{ db: SqlClient; close: () => Promise<void> }> {
  const { url } = await testDatabase(t, { migrationsDir: MIGRATIONS_DIR });
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const db: SqlClient = {
    $queryRawUnsafe: async <T>(query: string, ...values: unknown[]) => (await pool.query(query, values)).rows as T,
    $executeRawUnsafe: async (query: string, ...values: unknown[]) => (await pool.query(query, values)).rowCount ?? 0,
  };
  return { db, close: () => pool.end() };
}
