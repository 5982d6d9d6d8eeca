// Discovery's environment: the kit's base keys it uses plus its own, parsed once at start.
import { hostname } from 'node:os';
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';

// Discovery is the registry itself: it neither registers with nor watches another one.
const { DISCOVERY_URL: _url, DISCOVERY_REGISTER: _register, HEALTH_TTL_MS: _ttl, DEREGISTER_CRITICAL_AFTER_MS: _reap, ...base } =
  baseConfigShape({ port: 8000 });

export const configSchema = z.object({
  ...base,
  DATACENTER: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, "-" and "_" only')
    .default('dc1')
    .describe('Datacenter name reported to clients (Prometheus reads it from /v1/agent/self)'),
  NODE_NAME: env.string(hostname(), 'Node name reported for every instance (default: the host name)'),
  SELF_CHECK_INTERVAL_MS: env.int(10_000, 'How often discovery checks its own /health for its own catalog entry (1 s at least, as for every HTTP check)', 1_000),
});

export type Config = z.infer<typeof configSchema>;
