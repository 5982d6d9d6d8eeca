// A service's view of the others: one discovery watch per watched service and tag, a balanced
// Upstream per strategy over it, and one UpstreamClient per service and tag, with their metrics.
// The service factory owns it and closes it after the service's own close steps.
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Consul } from '../discovery/consul-client.ts';
import { ServiceWatcher } from '../discovery/service-watcher.ts';
import { resolveStrategy } from '../balancing/resolve.ts';
import { Upstream } from '../balancing/upstream.ts';
import { UpstreamClient, type BreakerOptions } from '../balancing/upstream-client.ts';
import type { ServiceIdentity } from '../identity/service-identity.ts';
import { METRIC } from '../metrics/names.ts';

export interface ClientOptions {
  /** Only instances registered with this tag (e.g. the mailer nodes that serve its REST API). */
  tag?: string;
  /** The client's circuit breakers (default DEFAULT_BREAKER); taken from the call that creates it. */
  breaker?: Partial<BreakerOptions>;
}

export class ServiceUpstreams {
  private readonly watchers = new Map<string, ServiceWatcher>();
  private readonly upstreams = new Map<string, Upstream>();
  private readonly clients = new Map<string, UpstreamClient>();
  private readonly watchErrors: Counter<'target'>;

  constructor(
    private readonly o: { consul: Consul; identity: ServiceIdentity; metrics: Registry; log: FastifyBaseLogger },
  ) {
    this.watchErrors = new Counter({
      name: METRIC.discoveryWatchErrorsTotal,
      help: 'Failed discovery watch rounds, by watched service',
      labelNames: ['target'] as const,
      registers: [o.metrics],
    });
    const watchers = this.watchers;
    new Gauge({
      name: METRIC.discoveryWatchInstances,
      help: 'Passing instances of each watched service, as last seen',
      labelNames: ['target', 'tag'] as const,
      registers: [o.metrics],
      collect() {
        for (const [key, watcher] of watchers) {
          const [target = key, tag] = key.split('\u0000');
          this.set(tag === undefined ? { target } : { target, tag }, watcher.instances().length);
        }
      },
    });
  }

  /** A load-balanced view of `target`'s passing instances, shared per name, tag and strategy. */
  upstream(target: string, { strategy = 'round-robin', tag }: { strategy?: string; tag?: string } = {}): Upstream {
    const watched = watchKey(target, tag);
    const key = `${watched}\u0000${strategy}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      let watcher = this.watchers.get(watched);
      if (!watcher) {
        watcher = new ServiceWatcher(this.o.consul, target, { log: this.o.log, tag, onError: () => this.watchErrors.inc({ target }) }).start();
        this.watchers.set(watched, watcher);
      }
      upstream = new Upstream(watcher, resolveStrategy(strategy));
      this.upstreams.set(key, upstream);
    }
    return upstream;
  }

  /** The client of `target` (round-robin), shared per name and tag; created on first use. */
  client(target: string, { tag, breaker }: ClientOptions = {}): UpstreamClient {
    const key = watchKey(target, tag);
    let client = this.clients.get(key);
    if (!client) {
      client = new UpstreamClient(this.upstream(target, tag === undefined ? {} : { tag }), {
        identity: this.o.identity,
        metrics: this.o.metrics,
        log: this.o.log,
        ...(breaker ? { breaker } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Stops every watch: the instance lists stay as last seen. */
  stopWatching(): void {
    for (const watcher of this.watchers.values()) watcher.stop();
  }

  /** Closes every client (its breakers and connection pools); a client that fails to close is logged, the rest close. */
  async closeClients(log: FastifyBaseLogger): Promise<void> {
    const closed = await Promise.allSettled([...this.clients.values()].map((client) => client.close()));
    for (const result of closed) if (result.status === 'rejected') log.error({ err: result.reason }, 'an upstream client failed to close');
    this.clients.clear();
  }
}

function watchKey(target: string, tag: string | undefined): string {
  return tag === undefined ? target : `${target}\u0000${tag}`;
}
