// Consul's ACL rules for what this registry serves: `service`, `node` and `agent` resources, each
// with exact-name and prefix rules granting read, write or deny. Plain data; knows nothing of HTTP.

export type Resource = 'service' | 'node' | 'agent';
export type Access = 'read' | 'write';
export type Level = 'deny' | 'read' | 'write';

/** Rules of one token: per resource, exact names and name prefixes with their level. */
export interface Rules {
  readonly exact: Readonly<Record<Resource, ReadonlyMap<string, Level>>>;
  readonly prefix: Readonly<Record<Resource, ReadonlyMap<string, Level>>>;
}

/** What a rule-less request falls back to: Consul's `acl.default_policy`. */
export type DefaultPolicy = 'allow' | 'deny';

export const RESOURCES: readonly Resource[] = ['service', 'node', 'agent'];

/** Rules built from `[resource, name, level]` triples (`prefix` for `service_prefix` and the like). */
export function rules(entries: readonly { resource: Resource; name: string; level: Level; prefix?: boolean }[]): Rules {
  const empty = () => ({ service: new Map<string, Level>(), node: new Map<string, Level>(), agent: new Map<string, Level>() });
  const exact = empty();
  const prefix = empty();
  for (const entry of entries) (entry.prefix ? prefix : exact)[entry.resource].set(entry.name, entry.level);
  return { exact, prefix };
}

/**
 * The rules Consul gives a token's service identity `name`: write on the service (and its sidecar
 * proxy, as Consul does), read on every service and node, so it can find what it calls.
 */
export function serviceIdentityRules(name: string): Rules {
  return rules([
    { resource: 'service', name, level: 'write' },
    { resource: 'service', name: `${name}-sidecar-proxy`, level: 'write' },
    { resource: 'service', name: '', level: 'read', prefix: true },
    { resource: 'node', name: '', level: 'read', prefix: true },
  ]);
}

/** Read on everything this registry serves: for Prometheus and dashboards. */
export const READ_EVERYTHING: Rules = rules(
  RESOURCES.map((resource) => ({ resource, name: '', level: 'read' as const, prefix: true })),
);

/**
 * The level `rules` give `name`, as Consul decides: an exact rule wins, then the longest matching
 * prefix; undefined when no rule matches.
 */
export function levelFor(ruleSet: Rules, resource: Resource, name: string): Level | undefined {
  const exact = ruleSet.exact[resource].get(name);
  if (exact) return exact;
  let best: { length: number; level: Level } | undefined;
  for (const [prefix, level] of ruleSet.prefix[resource]) {
    if (name.startsWith(prefix) && (!best || prefix.length > best.length)) best = { length: prefix.length, level };
  }
  return best?.level;
}

/** Whether `level` grants `access`: write includes read; deny grants nothing. */
export function grants(level: Level, access: Access): boolean {
  return level === 'write' || (level === 'read' && access === 'read');
}
