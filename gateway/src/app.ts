// buildApp(config): the gateway on the shared kit: its parts (wiring.ts) over the real outside
// (upstream clients from discovery, the coordinator's log in the gateway's own database, the push
// bus shared by every gateway instance), both transports and the REST API for services on one port,
// and its lifecycle. Never listens by itself.
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import pg from 'pg';
import { coordinatorRoutes, createService, type CoordinatorOptions, type Service } from '@notify/lib';
import { attachDatabase, instrumentPool } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';
import { avatarProxy, VariantCache } from './avatar-proxy.ts';
import { avatarUploadRoutes } from './avatar-uploads.ts';
import { avatarUploadCors } from './avatar-uploads-cors.ts';
import { unsubscribeRoutes } from './preferences/unsubscribe-routes.ts';
import type { ConnectionRegistry } from './connections.ts';
import { PushBus } from './push/bus.ts';
import { KeyRateLimiter } from './rest/rate-limit.ts';
import { restRoutes } from './rest/routes.ts';
import type { BusMessage } from './push/fanout.ts';
import { jsonRpcRoutes } from './transports/json-rpc.ts';
import { attachSocketIo } from './transports/socket-io.ts';
import { Upstreams } from './upstreams.ts';
import { wireGateway } from './wiring.ts';

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
  // Its saturation and time-outs show beside the Prisma pool's (db_pool_*{pool="push-bus"}).
  instrumentPool(busPool, service.metrics, 'push-bus');

  const upstreams = new Upstreams(service, config);
  const bus = new PushBus<BusMessage>({ url: config.DATABASE_URL, channel: config.PUSH_CHANNEL, pool: busPool, log: service.log });
  const { connections, metrics, sessions, avatars, fanout, coordinator, dispatcher, publications, unsubscribeLinks, publish } = wireGateway({
    config,
    log: service.log,
    registry: service.metrics,
    instanceId: () => service.instanceId,
    upstreams,
    participant: (name) => upstreams.client(name),
    db,
    joinBus: (onMessage) => {
      bus.deliverTo(onMessage);
      return { publish: (message) => bus.publish(message) };
    },
    faults: faultKills(service, config),
    ownUrl: () => {
      const bound = service.app.server.address();
      return `http://${config.ADVERTISE_ADDRESS}:${typeof bound === 'object' && bound ? bound.port : config.PORT}`;
    },
  });
  // At shutdown, after the bus has stopped delivering and before the upstream clients close.
  service.onClose(() => fanout.drain());

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
  const limiter = new KeyRateLimiter({ ratePerSecond: config.API_KEY_RATE_PER_SECOND, burst: config.API_KEY_BURST, maxKeys: config.CACHE_MAX_ENTRIES });
  void service.app.register(async (app) => restRoutes(app, { upstreams, sessions, publications, limiter }));
  void service.app.register(async (app) => unsubscribeRoutes(app, { links: unsubscribeLinks, upstreams, publish }));
  const uploadLimiter = new KeyRateLimiter({ ratePerSecond: config.AVATAR_UPLOADS_PER_MINUTE / 60, burst: config.AVATAR_UPLOAD_BURST, maxKeys: config.CACHE_MAX_ENTRIES });
  avatarUploadCors(service.app);
  void service.app.register(async (app) => avatarUploadRoutes(app, { upstreams, sessions, avatars, publish, limiter: uploadLimiter, basePath: config.AVATAR_BASE_PATH }));
  const variants = new VariantCache({ maxBytes: config.AVATAR_CACHE_MAX_BYTES, maxEntries: config.AVATAR_CACHE_MAX_ENTRIES });
  // An upload or a removal, on this gateway or another: the variants kept of the old avatar go.
  avatars.onChange((userId) => variants.forget(userId));
  void service.app.register(async (app) => avatarProxy(app, { upstreams, basePath: config.AVATAR_BASE_PATH, timeoutMs: config.AVATAR_TIMEOUT_MS, cache: variants, metrics }));

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
