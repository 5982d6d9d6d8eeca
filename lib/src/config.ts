// Environment configuration: one zod schema per service, parsed once at start, frozen and typed.
// This is the only module that reads process.env.
import { z } from 'zod';
import { FETCH_BAD_PORTS } from './bad-ports.ts';

/** Field builders for environment values, which always arrive as strings. */
export const env = {
  port: (fallback: number, description: string) =>
    z.coerce.number().int().min(0).max(65535).default(fallback).describe(description),
  /** A port a browser must reach: not one of the Fetch standard's bad ports, which browsers refuse. */
  browserPort: (fallback: number, description: string) =>
    z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .refine((port) => !FETCH_BAD_PORTS.has(port), { message: 'is a port browsers refuse (a Fetch "bad port"); choose another' })
      .default(fallback)
      .describe(description),
  int: (fallback: number, description: string, min = 0) =>
    z.coerce.number().int().min(min).default(fallback).describe(description),
  string: (fallback: string, description: string) => z.string().min(1).default(fallback).describe(description),
  optionalString: (description: string) => z.string().min(1).optional().describe(description),
  url: (fallback: string, description: string) => z.url().default(fallback).describe(description),
  optionalUrl: (description: string) => z.url().optional().describe(description),
  bool: (fallback: boolean, description: string) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes')
      .describe(description),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
};

/** Keys every service shares; a service's schema spreads these and adds its own. */
export function baseConfigShape(defaults: { port: number; /** Browsers reach this service: its port must not be a Fetch bad port. */ browser?: boolean }) {
  return {
    HOST: env.string('127.0.0.1', 'Interface to listen on (0.0.0.0: every interface, as compose sets)'),
    PORT: (defaults.browser ? env.browserPort : env.port)(defaults.port, 'Port to listen on (0 picks a free one)'),
    ADVERTISE_ADDRESS: env.string('127.0.0.1', 'Address other services use to reach this instance'),
    INSTANCE_ID: env.optionalString('Unique id of this instance in discovery (default: <service>-<host>-<port>)'),
    RESTARTS: env.int(0, 'Times a supervisor (npm start) restarted this instance after it died; shown on /status and /dashboard', 0),
    DISCOVERY_URL: env.url('http://127.0.0.1:8000', 'Discovery registry (this project’s or a Consul agent’s HTTP API)'),
    DISCOVERY_REGISTER: env.bool(true, 'Register this instance with discovery at start'),
    DISCOVERY_TOKEN: env.optionalString('ACL token sent to discovery (X-Consul-Token), one per service: it may register only this service. Required by a registry with ACLs (npm start makes them)'),
    HEALTH_TTL_MS: env.int(10_000, 'TTL of the discovery health check; refreshed at a third of it', 1_000),
    DEREGISTER_CRITICAL_AFTER_MS: env.int(60_000, 'Discovery reaps this instance after it has been critical this long', 1_000),
    DRAIN_DELAY_MS: env.int(500, 'On shutdown, keep serving this long after leaving discovery so callers’ watches catch up'),
    SHUTDOWN_TIMEOUT_MS: env.int(10_000, 'Longest graceful shutdown before the process exits anyway', 100),
    BODY_LIMIT_BYTES: env.int(1_048_576, 'Largest request body accepted', 1_024),
    LOG_LEVEL: env.logLevel(),
    SERVICE_SECRET: z
      .string()
      .min(32, 'must have at least 32 characters (e.g. openssl rand -base64 32)')
      .describe('Deployment secret every service signs and checks its internal calls with (X-Service-Token); the same on every instance. Required: npm start makes one per run'),
    OPERATOR_TOKEN: env.optionalString('Bearer token /metrics, /status and /dashboard require; unset: they answer only this machine (loopback)'),
    OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalUrl('OTLP/HTTP receiver for traces (e.g. Jaeger, http://jaeger:4318); unset: tracing is off and costs nothing'),
    OTEL_BSP_SCHEDULE_DELAY: env.int(2_000, 'Longest a finished span waits before it is sent to the OTLP receiver (ms)', 10),
  };
}

export type BaseConfigShape = ReturnType<typeof baseConfigShape>;
export type BaseConfig = z.infer<z.ZodObject<BaseConfigShape>>;

/** Raised by loadConfig; its message is one line naming the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment against a schema; throws ConfigError naming the first bad variable. */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = source[key];
    // An empty variable means "unset", so defaults apply (VAR= in a shell or .env file).
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? '(environment)');
    const got = name in input ? ` (got ${JSON.stringify(input[name])})` : '';
    throw new ConfigError(`invalid configuration: ${name}: ${issue.message}${got}`);
  }
  return Object.freeze(parsed.data);
}

/** loadConfig for a process entry point: a bad value prints one clear line and exits with status 1. */
export function loadConfigOrExit<S extends z.ZodObject>(schema: S, source: NodeJS.ProcessEnv = process.env): Readonly<z.infer<S>> {
  try {
    return loadConfig(schema, source);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Rows for documentation and `.env.example`: name, default and description of each key. */
export function describeConfig(schema: z.ZodObject): { name: string; default: string; description: string }[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = z.toJSONSchema(field as z.ZodType, { io: 'input', unrepresentable: 'any' }) as {
      default?: unknown;
      description?: string;
    };
    return {
      name,
      default: json.default === undefined ? '' : String(json.default),
      description: (field as z.ZodType).description ?? json.description ?? '',
    };
  });
}
