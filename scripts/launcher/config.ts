// The launcher's own environment: where the database and data live, and how ports are placed.
import { z } from 'zod';
import { env, loadConfigOrExit } from '../../lib/src/config.ts';

export const launcherConfigSchema = z.object({
  DATABASE_URL: env.optionalUrl('A PostgreSQL server to use instead of the embedded one; each service gets its own database on it'),
  EMBEDDED_POSTGRES_PORT: env.port(5433, 'Port of the embedded PostgreSQL'),
  NOTIFY_DATA_DIR: env.string('.data', 'Folder (git-ignored) for the embedded PostgreSQL data and other local state'),
  PORT_OFFSET: z.coerce
    .number()
    .int()
    .min(0)
    .max(50_000)
    // 2000 + 4000 is 6000: an offset that is a multiple of 1000 below 10,000 moves one service onto another's default port.
    .refine((offset) => offset === 0 || offset >= 10_000 || offset % 1_000 !== 0, { message: 'must not be a multiple of 1000 below 10,000 (services would land on each other’s ports); use e.g. 10500' })
    .default(0)
    .describe('Added to every port, to run a second system beside the first. Safe: 0, any value that is not a multiple of 1000, or 10,000 and above (e.g. 10500)'),
  ADVERTISE_ADDRESS: env.string('127.0.0.1', 'Address the instances advertise and the banner prints'),
  HOST: env.string('127.0.0.1', 'Interface every instance listens on (0.0.0.0 to reach them from other machines)'),
  RESTART_MAX_CRASHES: env.int(5, 'Deaths of one instance within RESTART_WINDOW_MS after which the launcher stops everything instead of restarting it again', 1),
  RESTART_WINDOW_MS: env.int(60_000, 'The window RESTART_MAX_CRASHES counts deaths in', 1_000),
  RUN_PROMETHEUS: env.bool(true, 'Run Prometheus with the monitoring/ configuration when its binary is on PATH'),
  PROMETHEUS_PORT: env.port(9090, 'Port of Prometheus under npm start'),
  SERVICE_SECRET: z
    .string()
    .min(32, 'must have at least 32 characters (e.g. openssl rand -base64 32)')
    .optional()
    .describe('The secret every instance signs its internal calls with; default: a new random one each run'),
  DISCOVERY_MANAGEMENT_TOKEN: z
    .string()
    .min(16, 'must have at least 16 characters (e.g. openssl rand -base64 32)')
    .optional()
    .describe('Management token of the registry (discovery’s ACLs); default: a new random one each run, kept in NOTIFY_DATA_DIR/discovery-management-token'),
  OPERATOR_TOKEN: env.optionalString('Token every instance requires on /metrics, /status and /dashboard (our Prometheus is given it); unset: they answer this machine only'),
});

export const launcherConfig = loadConfigOrExit(launcherConfigSchema);

export type LauncherConfig = z.infer<typeof launcherConfigSchema>;
