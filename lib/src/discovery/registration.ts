// Keeps one instance registered with discovery: register, TTL heartbeat with jitter, fail, deregister.
import type Consul from 'consul';
import type { FastifyBaseLogger } from 'fastify';
import { toConsulDuration } from './consul-client.ts';

export interface RegistrationOptions {
  id: string;
  name: string;
  address: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** TTL of the check; the heartbeat refreshes it at about a third of this. */
  ttlMs: number;
  deregisterCriticalAfterMs: number;
}

/** Registration calls tried at start before the start fails (a busy registry answers late, not never). */
const START_ATTEMPTS = 3;

/** The registration of one instance; `start` registers and begins the heartbeat, `stop` deregisters. */
export class Registration {
  private timer: NodeJS.Timeout | undefined;
  /** The heartbeat under way, if any: a fail or deregister waits for it so they land after it. */
  private beating: Promise<void> | undefined;
  private stopped = false;
  private registered = false;
  /** Heartbeats in a row that could neither pass nor register again. */
  private failedBeats = 0;
  private readonly checkId: string;

  /** Every call to discovery gives up after this long (ms): a third of the TTL, so one stuck call cannot outlive it. */
  private readonly callTimeoutMs: number;

  constructor(
    private readonly consul: Consul,
    private readonly options: RegistrationOptions,
    private readonly log: FastifyBaseLogger,
    private readonly onHeartbeatFailure: () => void = () => {},
  ) {
    // Consul names a service's single check `service:<id>`.
    this.checkId = `service:${options.id}`;
    // At least 2 s: on a loaded machine a shorter wait made every re-registration time out in turn
    // (a 1 s TTL gave 500 ms), so the instance stayed unregistered long after the registry was fine.
    this.callTimeoutMs = Math.max(2_000, Math.round(options.ttlMs / 3));
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /**
   * Registers (retrying a slow or failed call a few times, as registering again is harmless), then
   * begins the heartbeat. A registry still unreachable after the last attempt fails the start.
   */
  async start(): Promise<void> {
    this.stopped = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.register();
        break;
      } catch (error) {
        if (attempt >= START_ATTEMPTS) throw error;
        this.log.warn({ err: error, attempt }, 'discovery registration failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
    this.schedule();
  }

  private async register(): Promise<void> {
    const { id, name, address, port, tags = [], meta = {}, ttlMs, deregisterCriticalAfterMs } = this.options;
    await this.consul.agent.service.register({
      id,
      name,
      address,
      port,
      tags,
      meta,
      timeout: this.callTimeoutMs,
      check: {
        name: `${name} TTL`,
        ttl: toConsulDuration(ttlMs),
        deregistercriticalserviceafter: toConsulDuration(deregisterCriticalAfterMs),
        // Start critical and turn passing with the first heartbeat, as a real Consul expects.
        status: 'critical',
      },
      // The client's typings demand `timeout` on every check; a TTL check has none.
    } as unknown as Exclude<Parameters<Consul['agent']['service']['register']>[0], string>);
    await this.consul.agent.check.pass({ id: this.checkId, note: 'serving', timeout: this.callTimeoutMs });
    this.registered = true;
    this.log.info({ id, name, address, port }, 'registered with discovery');
  }

  private schedule(): void {
    if (this.stopped) return;
    // A third of the TTL, ±10% jitter so a fleet started together does not beat in step. While the
    // registry cannot be reached, sooner (250 ms doubling up to that): a restarted registry, which
    // starts empty, has every instance back within moments of its return.
    const base = this.failedBeats === 0 ? this.options.ttlMs / 3 : Math.min(this.options.ttlMs / 3, 250 * 2 ** (this.failedBeats - 1));
    const delay = base * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      this.beating = this.beat();
    }, delay);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.consul.agent.check.pass({ id: this.checkId, note: 'serving', timeout: this.callTimeoutMs });
      this.failedBeats = 0;
    } catch (error) {
      // The registry may have restarted (it keeps state in memory) or reaped us: register again.
      if (this.failedBeats === 0) this.log.warn({ err: error }, 'discovery heartbeat failed; registering again');
      this.onHeartbeatFailure();
      try {
        if (!this.stopped) await this.register();
        this.failedBeats = 0;
      } catch (registerError) {
        this.registered = false;
        if (this.failedBeats === 0) this.log.warn({ err: registerError }, 'discovery registration failed; will retry');
        this.failedBeats += 1;
      }
    }
    this.schedule();
  }

  /** Stops the heartbeat and marks the check critical at once, so watchers stop choosing this instance (draining). */
  async fail(note: string): Promise<void> {
    // No heartbeat may turn it passing again while we drain.
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (!this.registered) return;
    try {
      await this.consul.agent.check.fail({ id: this.checkId, note, timeout: this.callTimeoutMs });
    } catch (error) {
      this.log.warn({ err: error }, 'could not mark check failing');
    }
  }

  /** Stops the heartbeat and deregisters. Never throws: shutdown must go on. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (!this.registered) return;
    this.registered = false;
    try {
      await this.consul.agent.service.deregister({ id: this.options.id, timeout: this.callTimeoutMs });
      this.log.info({ id: this.options.id }, 'deregistered from discovery');
    } catch (error) {
      this.log.warn({ err: error }, 'deregistration failed; discovery will reap this instance');
    }
  }
}
