// buildApp(config): auth on the shared kit. Wires the database, cache, replication, API keys and routes; never
// listens (service.listen() migrates the database, listens, then starts the sweeper and the relay).
import { join } from 'node:path';
import { contractClient, createService, MAILER_API_TAG, ServiceWatcher, type Service } from '@notify/lib';
import { mailerContract } from '@notify/lib/contracts';
import { attachDatabase } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import { Accounts } from './accounts.ts';
import { ApiKeys } from './api-keys.ts';
import { AuthCache } from './cache/auth-cache.ts';
import { Replicator } from './cache/replication.ts';
import type { Config } from './config.ts';
import { PasswordHasher } from './domain/credentials.ts';
import { noHooks, type AuthHooks } from './hooks.ts';
import { createAuthMetrics } from './metrics.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { replicationRoutes } from './routes/replication.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { userRoutes } from './routes/users.ts';
import { ApiKeyStore } from './store/api-keys.ts';
import { LoginThrottleStore } from './store/login-throttle.ts';
import { SessionStore } from './store/sessions.ts';
import type { Database } from './store/database.ts';
import { UserStore } from './store/users.ts';
import { WelcomeRelay } from './welcome-relay.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');
const THROTTLE_SWEEP_MAX_INTERVAL_MS = 60_000;

export interface AuthApp {
  service: Service;
  accounts: Accounts;
}

export function buildApp(config: Readonly<Config>, options: { hooks?: AuthHooks; logStream?: NodeJS.WritableStream } = {}): AuthApp {
  const service = createService({
    name: 'auth',
    config,
    trustProxy: config.TRUST_PROXY,
    defaultCallers: ['gateway'],
    ...(options.logStream ? { logStream: options.logStream } : {}),
  });
  const metrics = createAuthMetrics(service.metrics);
  const { db } = attachDatabase(service, { PrismaClient, url: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE, migrationsDir: MIGRATIONS_DIR });

  const cache = new AuthCache({ ttlMs: config.CACHE_TTL_MS, maxEntries: config.CACHE_MAX_ENTRIES }, metrics);
  // Every registered auth instance, passing or not: a draining node still answers from its cache,
  // so it must still hear of invalidations.
  const peers = new ServiceWatcher(service.consul, 'auth', { passingOnly: false, log: service.log }).start();
  service.onClose(() => peers.stop());
  const replicator = new Replicator({
    selfId: () => service.instanceId,
    peers,
    cache,
    timeoutMs: config.REPLICATION_TIMEOUT_MS,
    secret: config.REPLICATION_SECRET,
    identity: service.identity,
    metrics,
    log: service.log,
  });
  service.onClose(() => replicator.close());
  const throttle = new LoginThrottleStore(db, config.LOGIN_FAILURE_WINDOW_MS);
  const relay = config.WELCOME_EMAILS ? welcomeRelay(service, db, config) : undefined;
  const accounts = new Accounts({
    users: new UserStore(db),
    sessions: new SessionStore(db),
    throttle,
    hasher: new PasswordHasher({ memoryKib: config.PASSWORD_MEMORY_KIB, iterations: config.PASSWORD_ITERATIONS }),
    cache,
    replicator,
    hooks: options.hooks ?? (relay ? { userRegistered: async () => relay.kick() } : noHooks),
    welcomeEmails: config.WELCOME_EMAILS,
    metrics,
    log: service.log,
    sessionTtlMs: config.SESSION_TTL_MS,
    maxFailures: config.LOGIN_MAX_FAILURES,
    maxRegistrationsPerClient: config.REGISTER_MAX_PER_CLIENT,
  });

  void service.app.register(userRoutes, { accounts });
  void service.app.register(sessionRoutes, { accounts });
  const apiKeys = new ApiKeys({ keys: new ApiKeyStore(db), sessions: new SessionStore(db), maxPerUser: config.API_KEYS_MAX_PER_USER, log: service.log });
  void service.app.register(apiKeyRoutes, { apiKeys });
  void service.app.register(replicationRoutes, { replicator, metrics });

  // Rows of ended windows count nothing: swept once per window (at most a minute apart) by every node.
  // A start step, so after the migrations.
  let sweeper: NodeJS.Timeout | undefined;
  service.onStart(() => {
    sweeper = setInterval(() => {
      throttle.sweep().catch((error: unknown) => service.log.warn({ err: error }, 'sweeping login_throttle failed'));
    }, Math.min(config.LOGIN_FAILURE_WINDOW_MS, THROTTLE_SWEEP_MAX_INTERVAL_MS));
    sweeper.unref();
  });
  service.onClose(() => clearInterval(sweeper));

  return { service, accounts };
}

/** The welcome-email relay to the mailer nodes that serve its API; started once listening (after migrations). */
function welcomeRelay(service: Service, db: Database, config: Readonly<Config>): WelcomeRelay {
  const mailer = contractClient(service.client('mailer', { tag: MAILER_API_TAG }), mailerContract, { deadlineMs: config.MAILER_TIMEOUT_MS });
  const relay = new WelcomeRelay({ db, mailer, log: service.log, intervalMs: config.WELCOME_RELAY_INTERVAL_MS, timeoutMs: config.MAILER_TIMEOUT_MS });
  service.onStart(() => relay.start());
  // The kit closes the mailer client after every close step, so a relay run in progress still finishes.
  service.onClose(() => relay.stop());
  return relay;
}
