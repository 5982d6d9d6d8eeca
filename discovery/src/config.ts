// Discovery's environment: the kit's base keys it uses plus its own, parsed once at start.
import { hostname } from 'node:os';
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';

// Discovery is the registry itself: it neither registers with nor watches another one.
const { DISCOVERY_URL: _url, DISCOVERY_REGISTER: _register, DISCOVERY_TOKEN: _token, HEALTH_TTL_MS: _ttl, DEREGISTER_CRITICAL_AFTER_MS: _reap, ...base } =
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
  ACL_ENABLED: env.bool(true, 'Consul ACLs: every request is judged by its token (X-Consul-Token, Authorization: Bearer or ?token=); false lets anyone register anything'),
  ACL_DEFAULT_POLICY: z
    .enum(['deny', 'allow'])
    .default('deny')
    .describe('What a token (or a request without one) may do where no rule of it speaks: deny (nothing) or allow (everything)'),
  ACL_MANAGEMENT_TOKEN: z
    .string()
    .min(16, 'must have at least 16 characters (e.g. openssl rand -base64 32)')
    .optional()
    .describe('Secret of the management token, which may do anything (required while ACL_ENABLED)'),
  ACL_SERVICE_TOKENS: z
    .string()
    .optional()
    .transform((text, context) => {
      const tokens = parseServiceTokens(text ?? '');
      if (typeof tokens === 'string') {
        context.addIssue({ code: 'custom', message: tokens });
        return z.NEVER;
      }
      return tokens;
    })
    .describe('Service-identity tokens, "name=secret" separated by commas: each registers, heartbeats and deregisters instances of its service only, and reads every service'),
  ACL_READ_TOKENS: z
    .string()
    .optional()
    .transform((text, context) => {
      const secrets = (text ?? '').split(',').map((secret) => secret.trim()).filter(Boolean);
      if (secrets.some((secret) => secret.length < MIN_TOKEN_LENGTH)) {
        context.addIssue({ code: 'custom', message: `every secret must have at least ${MIN_TOKEN_LENGTH} characters` });
        return z.NEVER;
      }
      return secrets;
    })
    .describe('Secrets of tokens that read every service, node and the agent and write nothing (Prometheus), separated by commas'),
}).superRefine((config, context) => {
  if (config.ACL_ENABLED && !config.ACL_MANAGEMENT_TOKEN) {
    context.addIssue({ code: 'custom', path: ['ACL_MANAGEMENT_TOKEN'], message: 'is required while ACL_ENABLED is true (set ACL_ENABLED=false to run the registry without ACLs)' });
  }
});

/** 16 characters: the shortest secret accepted for any token. */
const MIN_TOKEN_LENGTH = 16;

/** `name=secret,name=secret` into pairs; a message naming the first bad entry otherwise. */
export function parseServiceTokens(text: string): { name: string; secret: string }[] | string {
  const tokens: { name: string; secret: string }[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, Math.max(at, 0)).trim();
    const secret = entry.slice(at + 1).trim();
    if (at <= 0 || !/^[a-zA-Z0-9_.-]+$/.test(name)) return `entry ${JSON.stringify(entry.slice(0, 40))} is not "name=secret" with a service name of letters, digits, ".", "-", "_"`;
    if (secret.length < MIN_TOKEN_LENGTH) return `the secret for ${JSON.stringify(name)} must have at least ${MIN_TOKEN_LENGTH} characters`;
    tokens.push({ name, secret });
  }
  return tokens;
}

export type Config = z.infer<typeof configSchema>;
