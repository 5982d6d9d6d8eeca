// The gateway in one process for tests: its real parts (dispatcher and method table, sessions,
// caches, counter reads, fan-out, publications and acknowledgements, the kit's Coordinator with
// the gateway's transaction definitions), wired by the same wireGateway as buildApp, over fake
// upstreams, fake participants and a push bus that delivers to this instance only. No sockets, no
// processes; the coordinator's log is a real PostgreSQL database when a test asks for one.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createError, loadConfig, type SqlClient } from '@notify/lib';
import { testDatabase } from '@notify/lib/testing';
import { configSchema } from '../../src/config.ts';
import type { BusMessage } from '../../src/push/fanout.ts';
import { wireGateway } from '../../src/wiring.ts';
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

  /** Every message published on the bus, in order; each is also handled here at once, as the bus does. */
  const bus: BusMessage[] = [];
  const database = options.database ? await coordinatorDatabase(t) : undefined;
  const parts = wireGateway({
    config,
    log,
    registry,
    instanceId: () => INSTANCE_ID,
    upstreams: upstreams.clients,
    participant: participants.participant,
    db: database?.db ?? NO_DATABASE,
    joinBus: (onMessage) => ({
      publish: async (message) => {
        bus.push(message);
        try {
          await onMessage(message);
        } catch (error) {
          log.error({ err: error }, 'push bus handler failed');
        }
      },
    }),
  });
  const { connections, coordinator, fanout } = parts;

  // In buildApp's order: the coordinator stops, the fan-out's bookkeeping drains, then the pool closes.
  t.after(async () => {
    await coordinator.stop();
    await fanout.drain();
    await database?.close();
  });

  return {
    ...parts,
    config,
    log,
    registry,
    upstreams,
    participants,
    bus,
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
