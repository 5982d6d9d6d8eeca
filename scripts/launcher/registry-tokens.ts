// The registry's ACL tokens for one `npm start` run: a management token (the launcher's, and the
// operator's for curl), one service-identity token per service, and a read token for Prometheus.
import { randomBytes } from 'node:crypto';

const newSecret = () => randomBytes(24).toString('base64url');

export interface RegistryTokens {
  /** May do anything; the launcher reads health with it, and the banner says where it is kept. */
  readonly management: string;
  /** Reads everything, writes nothing: our Prometheus's. */
  readonly read: string;
  /** DISCOVERY_TOKEN of an instance of `service`: it may register only that service. */
  of(service: string): string;
  /** Discovery's ACL_* environment granting exactly these tokens. */
  discoveryEnv(): Record<string, string>;
}

/** New tokens for `services` (the management token taken from `management` when given). */
export function registryTokens(services: Iterable<string>, management = newSecret()): RegistryTokens {
  const byService = new Map([...new Set(services)].map((service) => [service, newSecret()]));
  const read = newSecret();
  return {
    management,
    read,
    of(service) {
      const token = byService.get(service);
      if (!token) throw new Error(`no registry token for service ${JSON.stringify(service)}`);
      return token;
    },
    discoveryEnv: () => ({
      ACL_ENABLED: 'true',
      ACL_DEFAULT_POLICY: 'deny',
      ACL_MANAGEMENT_TOKEN: management,
      ACL_SERVICE_TOKENS: [...byService].map(([service, token]) => `${service}=${token}`).join(','),
      ACL_READ_TOKENS: read,
    }),
  };
}
