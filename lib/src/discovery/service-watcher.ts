// Client-side discovery: the passing instances of one service, kept fresh by a blocking-query watch.
import { EventEmitter, once } from 'node:events';
import type Consul from 'consul';
import type { FastifyBaseLogger } from 'fastify';
import { createError } from '../errors.ts';

/** One reachable instance of a service, as discovery reports it. */
export interface Instance {
  id: string;
  service: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

interface ServiceEntry {
  Node?: { Address?: string };
  Service: { ID: string; Service: string; Address?: string; Port: number; Tags?: string[] | null; Meta?: Record<string, string> | null };
}

export interface ServiceWatcherOptions {
  /** Longest a blocking query waits for a change (Consul's `wait`); 30 s keeps idle traffic low. */
  waitMs?: number;
  /** Cap of the retry backoff when discovery is unreachable, in ms. */
  backoffMaxMs?: number;
  log?: FastifyBaseLogger;
  /** Called on every failed watch round (for metrics). */
  onError?: (error: Error) => void;
  /** Only instances whose checks all pass (default). False: every registered instance, e.g. to reach draining ones too. */
  passingOnly?: boolean;
  /** Only instances registered with this tag (Consul's `tag` filter). */
  tag?: string;
  /**
   * After the registry was unreachable (it may have restarted with an empty memory) or its index
   * went backwards, how long instances it no longer lists are kept while they register again (ms).
   * Default 10 000.
   */
  restartGraceMs?: number;
}

/**
 * Watches `GET /v1/health/service/:name?passing` with blocking queries; the list is replaced whole on
 * every change, so a reader holding a snapshot never sees a half-updated list.
 * Emits `change` (instances) and `error` is never emitted: failures are logged and retried.
 */
export class ServiceWatcher extends EventEmitter<{ change: [Instance[]] }> {
  private current: readonly Instance[] = [];
  private watch: ReturnType<Consul['watch']> | undefined;
  private answered = false;
  private stopped = false;
  private errors = 0;
  /** The registry's index at the last answer: lower next time means it restarted. */
  private lastIndex: number | undefined;
  /** The registry could not be reached since the last answer: the next one may come from a restarted, empty registry. */
  private unreachable = false;
  /** What the registry listed last, before instances carried over a restart are added. */
  private listed: Instance[] = [];
  /** Instances a restarted registry does not list (yet), kept until they are back or their time is up. */
  private readonly carried = new Map<string, { instance: Instance; until: number }>();
  private carryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly consul: Consul,
    readonly service: string,
    private readonly options: ServiceWatcherOptions = {},
  ) {
    super();
  }

  /** Starts watching; idempotent. */
  start(): this {
    if (this.watch) return this;
    this.stopped = false;
    const wait = Math.max(1, Math.round((this.options.waitMs ?? 30_000) / 1000));
    this.watch = this.consul.watch({
      method: this.consul.health.service,
      options: {
        service: this.service,
        ...(this.options.passingOnly === false ? {} : { passing: 'true' }),
        ...(this.options.tag === undefined ? {} : { tag: this.options.tag }),
        wait: `${wait}s`,
      },
      backoffFactor: 50,
      backoffMax: this.options.backoffMaxMs ?? 2_000,
    });
    const watch = this.watch;
    watch.on('change', (data: ServiceEntry[], response?: { headers?: Record<string, unknown> }) => this.update(data, Number(response?.headers?.['x-consul-index'])));
    // The client's watch ends itself on a 400 or an answer without X-Consul-Index; a list that
    // silently froze would be worse than none, so start a new watch after a pause.
    watch.on('end', () => {
      if (this.watch !== watch) return; // stopped by us
      this.watch = undefined;
      this.options.log?.warn({ service: this.service }, 'discovery watch ended; restarting');
      const timer = setTimeout(() => {
        if (!this.stopped) this.start();
      }, this.options.backoffMaxMs ?? 2_000);
      timer.unref();
    });
    watch.on('error', (error: Error) => {
      this.errors += 1;
      this.unreachable = this.answered;
      this.options.onError?.(error);
      // Log the first failure of a run loudly and the rest quietly: a restarting registry is routine.
      const level = this.errors === 1 ? 'warn' : 'debug';
      this.options.log?.[level]({ err: error, service: this.service }, 'discovery watch failed; retrying');
    });
    return this;
  }

  private update(entries: ServiceEntry[], index: number): void {
    this.errors = 0;
    this.answered = true;
    const listed = entries.map((entry) => ({
      id: entry.Service.ID,
      service: entry.Service.Service,
      address: entry.Service.Address || entry.Node?.Address || '127.0.0.1',
      port: entry.Service.Port,
      tags: entry.Service.Tags ?? [],
      meta: entry.Service.Meta ?? {},
    }));
    const restarted = this.unreachable || (Number.isFinite(index) && this.lastIndex !== undefined && index < this.lastIndex);
    this.unreachable = false;
    if (restarted) {
      // The registry may have restarted and list only who registered since: keep the others for a
      // while (their breakers still guard every call) instead of finding no instance at all.
      const until = Date.now() + (this.options.restartGraceMs ?? 10_000);
      const missing = this.current.filter((instance) => !listed.some((candidate) => candidate.id === instance.id));
      for (const instance of missing) this.carried.set(instance.id, { instance, until });
      if (missing.length) this.options.log?.info({ service: this.service, kept: missing.map((instance) => instance.id) }, 'discovery is back without some instances; keeping them while they register again');
    }
    if (Number.isFinite(index)) this.lastIndex = index;
    this.listed = listed;
    this.publish();
  }

  /** Replaces the list: what the registry listed, plus instances carried over its restart and not expired. */
  private publish(): void {
    const now = Date.now();
    for (const [id, { until }] of this.carried) if (until <= now || this.listed.some((instance) => instance.id === id)) this.carried.delete(id);
    clearTimeout(this.carryTimer);
    if (this.carried.size) {
      const next = Math.min(...[...this.carried.values()].map(({ until }) => until));
      this.carryTimer = setTimeout(() => this.publish(), Math.max(0, next - now) + 1);
      this.carryTimer.unref();
    }
    this.current = Object.freeze([...this.listed, ...[...this.carried.values()].map(({ instance }) => instance)]);
    this.emit('change', [...this.current]);
  }

  /** The passing instances as last seen (a frozen snapshot). */
  instances(): readonly Instance[] {
    return this.current;
  }

  /** Waits for the first answer from discovery, or fails with UNAVAILABLE after `timeoutMs`. */
  async ready(timeoutMs = 5_000): Promise<readonly Instance[]> {
    this.start();
    if (this.answered) return this.current;
    try {
      await once(this, 'change', { signal: AbortSignal.timeout(timeoutMs) });
    } catch {
      throw createError({ code: 'UNAVAILABLE', message: `discovery gave no answer for ${this.service} within ${timeoutMs} ms` });
    }
    return this.current;
  }

  /** Waits until `predicate` holds for the instance list (tests, start-up ordering). */
  async until(predicate: (instances: readonly Instance[]) => boolean, timeoutMs = 10_000): Promise<readonly Instance[]> {
    this.start();
    if (this.answered && predicate(this.current)) return this.current;
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      try {
        const [instances] = (await once(this, 'change', { signal })) as [Instance[]];
        if (predicate(instances)) return instances;
      } catch {
        throw createError({ code: 'TIMEOUT', message: `${this.service}: condition not met within ${timeoutMs} ms` });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.carryTimer);
    const watch = this.watch;
    this.watch = undefined;
    watch?.end();
  }
}
