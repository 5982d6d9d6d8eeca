// Builds the `consul` npm client for DISCOVERY_URL: our registry or a real Consul agent alike.
import Consul from 'consul';

/**
 * A consul client for a registry base URL such as http://127.0.0.1:8000; every call carries `token`
 * (X-Consul-Token) when given, as a registry with ACLs (ours or Consul's) requires.
 */
export function createConsulClient(discoveryUrl: string, token?: string): Consul {
  const url = new URL(discoveryUrl);
  const base = url.pathname.replace(/\/+$/, '');
  return new Consul({
    baseUrl: `${url.protocol}//${url.host}${base}/v1`,
    ...(token ? { defaults: { token } } : {}),
  } as ConstructorParameters<typeof Consul>[0]);
}

/** Consul durations ("10s", "1m", "500ms") from milliseconds. */
export function toConsulDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export type { Consul };

declare module 'consul/lib/consul.js' {
  interface CommonOptions {
    /** Milliseconds (or a duration string) before the call is abandoned; the client honours it, its typings omit it. */
    timeout?: number | string;
  }
}
