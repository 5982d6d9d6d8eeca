// The service factory: fastify with pino logs, errors, health, metrics, status, dashboard,
// discovery registration, clients of other services, and one lifecycle (prepare, start, drain,
// close, in a fixed order) every service hangs its own steps on.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BaseConfig } from '../config.ts';
import { REASON } from '../reasons.ts';
import { createError } from '../errors.ts';
import { createConsulClient, type Consul } from '../discovery/consul-client.ts';
import { Registration } from '../discovery/registration.ts';
import type { Upstream } from '../balancing/upstream.ts';
import type { UpstreamClient } from '../balancing/upstream-client.ts';
import { instrumentHttp } from '../metrics/http-metrics.ts';
import { METRIC } from '../metrics/names.ts';
import { renderDashboard } from './dashboard.ts';
import { processLogDestination } from './log-destination.ts';
import { installErrorHandling, toAppError } from './error-handler.ts';
import {
  checkDependencies,
  sharedDependencyChecks,
  EventLoopMonitor,
  type DependencyCheck,
  type DependencyChecks,
  type Lifecycle,
  type StatusSnapshot,
} from './status.ts';
import { zodValidatorCompiler } from './validation.ts';
import { findUnstorableText, UNSTORABLE_TEXT_MESSAGE } from '../validation/storable-text.ts';
import { ServiceIdentity } from '../identity/service-identity.ts';
import { installCallerPolicy, type Callers } from '../identity/caller-policy.ts';
import { LifecycleSteps, type Bound, type Step } from './lifecycle-steps.ts';
import { startTracing, stopTracing } from '../tracing/tracing.ts';
import { traceLogMixin, traceRequests } from '../tracing/http-spans.ts';
import { ServiceUpstreams, type ClientOptions } from './service-upstreams.ts';

export interface ServiceOptions {
  /** Service name in discovery, logs and metrics (e.g. "persist"). */
  name: string;
  version?: string;
  config: BaseConfig;
  tags?: string[];
  meta?: Record<string, string>;
  /** Register with discovery once listening (default: config.DISCOVERY_REGISTER). */
  register?: boolean;
  /** A pino destination for tests that assert on logs; default stdout. */
  logStream?: NodeJS.WritableStream;
  /** Proxies whose X-Forwarded-For names the client (fastify's trustProxy); default none. */
  trustProxy?: string | boolean;
  /** Callers of routes that name none (default: nobody; the gateway's and discovery's APIs are 'public'). */
  defaultCallers?: Callers;
  /** A server span per request (default true); the registry, which every instance polls, has none. */
  traceRequests?: boolean;
  /** How long one look at the dependencies answers /health again (default 1 s); /status always looks anew. */
  healthCheckReuseMs?: number;
}

/** A service: its fastify app, metrics, discovery, clients of others, and its lifecycle (lifecycle-steps.ts). */
export interface Service {
  readonly name: string;
  readonly app: FastifyInstance;
  readonly log: FastifyBaseLogger;
  readonly metrics: Registry;
  readonly config: BaseConfig;
  /** Set at listen when INSTANCE_ID is not configured (the port is part of it). */
  readonly instanceId: string;
  readonly state: Lifecycle;
  readonly consul: Consul;
  /** Signs this service's calls to others (UpstreamClient sends it) and verifies calls to it. */
  readonly identity: ServiceIdentity;
  /** Adds a dependency shown in /status; a required one that is down makes /health 503. */
  addDependency(name: string, check: DependencyCheck, options?: { required?: boolean }): void;
  /** Runs before the port opens, in order of adding (lifecycle step 1): the database, a queue. */
  onPrepare(step: Step): void;
  /** Runs once listening and registered, in order of adding (step 3): sweepers, workers, recovery. */
  onStart(step: Step<[Bound]>): void;
  /** Runs as soon as a close begins, in order of adding (step 4): stop taking background work. */
  onDrain(step: Step): void;
  /** Runs after the server has drained and deregistered, in reverse order of adding (step 6): pools. */
  onClose(step: Step): void;
  /**
   * A load-balanced view of another service's passing instances, shared per name, strategy and tag
   * (`tag`: only instances registered with it, e.g. the mailer nodes that serve its REST API).
   */
  upstream(service: string, options?: { strategy?: string; tag?: string }): Upstream;
  /**
   * The client of another service: round-robin over `upstream(service, { tag })`, signed as this
   * service, with its metrics and logs. One per name and tag, created on first use (`breaker` from
   * that call) and closed by the kit after every onClose step, so close steps may still call.
   */
  client(service: string, options?: ClientOptions): UpstreamClient;
  /** Starts the service: prepare steps, listen and register, start steps (lifecycle-steps.ts). */
  listen(): Promise<Bound>;
  status(): Promise<StatusSnapshot>;
  close(reason?: string): Promise<void>;
}

/** Builds a service; routes are added on `service.app` before `listen()`. */
export function createService(options: ServiceOptions): Service {
  const { name, config } = options;
  const version = options.version ?? '0.1.0';
  const startedAt = new Date();
  let instanceId = config.INSTANCE_ID ?? `${name}-${hostname()}-${config.PORT}`;
  let state: Lifecycle = 'starting';
  const dependencies: DependencyChecks = new Map();
  const healthChecks = sharedDependencyChecks(dependencies, options.healthCheckReuseMs ?? 1_000);
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) {
    startTracing({ endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: name, instanceId: `${name}-${hostname()}-${process.pid}`, version, exportDelayMs: config.OTEL_BSP_SCHEDULE_DELAY });
  }

  const loggerOptions = {
    level: config.LOG_LEVEL,
    base: { service: name },
    // Credentials (passwords, session tokens, API key secrets) never reach the logs, whichever route carried them.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-consul-token"]', 'req.headers["x-service-token"]', '*.password', '*.token', '*.secret', 'password', 'token', 'secret'],
      censor: '[redacted]',
    },
    stream: options.logStream ?? processLogDestination,
    // Lines logged while a span is active name its trace (request loggers name theirs in bindings).
    mixin: traceLogMixin,
  };
  const app = Fastify({
    logger: loggerOptions,
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    trustProxy: options.trustProxy ?? false,
    forceCloseConnections: 'idle',
    // A path fastify cannot decode (a lone surrogate's bytes, a bad %-escape) is refused before any
    // route or error handler: answered in the contract's shape like any other bad input (400).
    frameworkErrors: (error, _request, reply) => {
      const appError = toAppError(error);
      // fastify types this reply from its own generics; the contract's error body is what it sends.
      const raw = reply as unknown as { code(status: number): { send(body: unknown): unknown } };
      return raw.code(appError.statusCode).send(appError.toJSON());
    },
    // Request ids come from the caller when given, so one id follows a call across services.
    requestIdHeader: 'x-request-id',
    // Long path parameters reach the route's schema, which names the limit, instead of a bare 414.
    routerOptions: { maxParamLength: 1_000 },
    // Per-request lines (health checks, scrapes) only at debug level and below.
    logController: new LogController({ disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace' }),
  });
  const steps = new LifecycleSteps(app.log);
  app.setValidatorCompiler(zodValidatorCompiler);
  installErrorHandling(app);
  // Tracing off: no hook at all on the request path.
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT && options.traceRequests !== false) traceRequests(app);
  const identity = new ServiceIdentity(name, config.SERVICE_SECRET);
  installCallerPolicy(app, { identity, operatorToken: config.OPERATOR_TOKEN, defaultCallers: options.defaultCallers });
  // Before any route's schema: text PostgreSQL cannot store (NUL, unpaired surrogates) anywhere in
  // the path parameters, query or body is the caller's mistake (400), never a database error (500).
  // Both are callback hooks: they run on every request, and a callback costs no promise and no microtask.
  app.addHook('preValidation', (request, _reply, done) => {
    done(unstorable('params', request.params) ?? unstorable('querystring', request.query) ?? unstorable('body', request.body));
  });
  // A response finishing while we drain closes its keep-alive connection, so close() need not
  // wait for clients to hang up (fastify only closes connections idle at the moment close starts).
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (state === 'draining') reply.header('connection', 'close');
    done();
  });

  const metrics = new Registry();
  metrics.setDefaultLabels({ service: name });
  collectDefaultMetrics({ register: metrics });
  new Gauge({ name: METRIC.serviceInfo, help: 'Service version', labelNames: ['version'], registers: [metrics] }).set({ version }, 1);
  const http = instrumentHttp(app, metrics);
  const loop = new EventLoopMonitor();

  const consul = createConsulClient(config.DISCOVERY_URL, config.DISCOVERY_TOKEN);
  const shouldRegister = options.register ?? config.DISCOVERY_REGISTER;
  let registration: Registration | undefined;
  new Gauge({
    name: METRIC.discoveryRegistered,
    help: '1 while this instance is registered with discovery',
    registers: [metrics],
    collect() {
      this.set(registration?.isRegistered ? 1 : 0);
    },
  });

  const heartbeatFailures = new Counter({
    name: METRIC.discoveryHeartbeatFailuresTotal,
    help: 'Discovery heartbeats that failed (each is followed by a fresh registration)',
    registers: [metrics],
  });
  const others = new ServiceUpstreams({ consul, identity, metrics, log: app.log });

  async function status(): Promise<StatusSnapshot> {
    const memory = process.memoryUsage();
    return {
      service: name,
      instanceId,
      version,
      state,
      pid: process.pid,
      node: process.version,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      restarts: config.RESTARTS,
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external },
      eventLoopLagMs: loop.read(),
      inFlightRequests: http.inFlight(),
      discovery: { url: config.DISCOVERY_URL, registered: registration?.isRegistered ?? false },
      dependencies: await checkDependencies(dependencies),
    };
  }

  // Probes and scrapes come every few seconds from every poller: no spans for them.
  const anyone = { config: { callers: 'public' as const, trace: false } };
  const operator = { config: { callers: 'operator' as const, trace: false } };
  app.get('/health', anyone, async (_request, reply) => {
    if (state !== 'ready') return reply.code(503).send({ status: state });
    const reports = await healthChecks();
    const down = Object.entries(reports).filter(([, report]) => report.required && report.state === 'down');
    if (down.length) return reply.code(503).send({ status: 'degraded', down: down.map(([dep]) => dep) });
    return { status: 'ok' };
  });
  app.get('/metrics', operator, async (_request, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });
  app.get('/status', operator, status);
  app.get('/dashboard', operator, async (_request, reply) => reply.type('text/html; charset=utf-8').send(renderDashboard(await status())));

  let closing: Promise<void> | undefined;
  /** Opening the port and registering: a close waits for it, so what it registered is deregistered. */
  let opening: Promise<unknown> | undefined;
  /** The prepare steps under way: a close waits for the one in progress, so its close step finds what it started. */
  let preparing: Promise<unknown> | undefined;

  async function start(): Promise<Bound> {
    if (steps.prepare.length) {
      // Plugins first: a prepare step may rely on what they set up (e.g. an upgrade listener).
      await app.ready();
      // A close that begins meanwhile waits for the step in progress, and no other step begins:
      // its close steps then find what the prepare steps started. The port stays shut.
      const prepared = steps.runPrepare(() => closing !== undefined);
      preparing = prepared.catch(() => {});
      await prepared;
      if (closing) throw new Error(`${name} closed while starting`);
    }
    // Without prepare steps this runs at once, so a close called right after listen() waits for it.
    const opened = open();
    opening = opened.catch(() => {});
    const bound = await opened;
    await steps.runStart(bound, () => closing !== undefined);
    return bound;
  }

  async function open(): Promise<Bound> {
    await app.listen({ host: config.HOST, port: config.PORT });
    const bound = app.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : config.PORT;
    if (!config.INSTANCE_ID) instanceId = `${name}-${hostname()}-${port}`;
    if (shouldRegister) {
      registration = new Registration(
        consul,
        {
          id: instanceId,
          name,
          address: config.ADVERTISE_ADDRESS,
          port,
          tags: options.tags ?? [],
          meta: { version, ...options.meta },
          ttlMs: config.HEALTH_TTL_MS,
          deregisterCriticalAfterMs: config.DEREGISTER_CRITICAL_AFTER_MS,
        },
        app.log,
        () => heartbeatFailures.inc(),
      );
      await registration.start();
    }
    // A close() that began while we started wins: it waits for us, then drains and deregisters.
    if (state === 'starting') state = 'ready';
    app.log.info({ instanceId, address: config.ADVERTISE_ADDRESS, port, url: `http://${config.ADVERTISE_ADDRESS}:${port}` }, `${name} listening`);
    return { address: config.ADVERTISE_ADDRESS, port };
  }

  const service: Service = {
    name,
    app,
    log: app.log,
    metrics,
    config,
    consul,
    identity,
    get instanceId() {
      return instanceId;
    },
    get state() {
      return state;
    },
    addDependency(dependency, check, { required = true } = {}) {
      dependencies.set(dependency, { check, required });
    },
    onPrepare(step) {
      steps.prepare.push(step);
    },
    onStart(step) {
      steps.start.push(step);
    },
    onDrain(step) {
      steps.drain.push(step);
    },
    onClose(step) {
      steps.close.push(step);
    },
    upstream(target, options) {
      return others.upstream(target, options);
    },
    client(target, options) {
      return others.client(target, options);
    },
    listen: start,
    status,
    close(reason = 'shutdown') {
      // Ordered: refuse new work and leave the balancers' lists, drain, deregister, close pools.
      closing ??= (async () => {
        app.log.info({ reason }, `${name} closing`);
        state = 'draining';
        // A prepare step or the opening of the port under way finishes first, so what it started or
        // registered is stopped or deregistered below.
        await preparing;
        await opening;
        await steps.runDrain();
        if (registration?.isRegistered) {
          await registration.fail(`draining: ${reason}`);
          // Callers learn of the failed check through their watches within milliseconds; until
          // they have, they may still pick us, so go on accepting for a moment.
          await sleep(config.DRAIN_DELAY_MS);
        }
        // Drain, but not for ever: deregistering and closing pools must still happen in time.
        const drainMs = Math.round(config.SHUTDOWN_TIMEOUT_MS / 2);
        // The limit's timer is unref'd: once drained, it must not hold a closed service's process open.
        const drained = await Promise.race([app.close().then(() => true), sleep(drainMs, false, { ref: false })]);
        if (!drained) {
          app.log.warn({ drainMs }, 'requests still in flight after the drain limit; closing anyway');
          // Whatever is still open would keep the server (and the process) alive until keep-alive expires.
          app.server.closeAllConnections();
        }
        await registration?.stop();
        others.stopWatching();
        await steps.runClose();
        await others.closeClients(app.log);
        await stopTracing(name).catch((error: unknown) => app.log.warn({ err: error }, 'the last spans could not be sent'));
        consul.destroy();
        loop.stop();
        state = 'closed';
        app.log.info(`${name} closed`);
      })();
      return closing;
    },
  };
  return service;
}

/** The refusal of a part of a request holding text PostgreSQL cannot store (NUL, unpaired surrogates), if it does. */
function unstorable(part: 'params' | 'querystring' | 'body', value: unknown): Error | undefined {
  const at = findUnstorableText(value);
  if (at === undefined) return undefined;
  const field = at ? `${part}.${at}` : part;
  return createError({ code: 'INVALID_ARGUMENT', message: `${field} ${UNSTORABLE_TEXT_MESSAGE}`, details: { reason: REASON.UNSTORABLE_TEXT, field } });
}
