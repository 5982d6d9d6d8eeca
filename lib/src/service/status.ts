// The /status snapshot: who this instance is, how it is doing, and the state of what it depends on.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export type DependencyState = 'up' | 'down' | 'degraded' | 'unknown';

export interface DependencyReport {
  state: DependencyState;
  /** A required dependency that is down makes /health answer 503. */
  required: boolean;
  detail?: string;
}

export type DependencyCheck = () => Promise<Omit<DependencyReport, 'required'>> | Omit<DependencyReport, 'required'>;

/** A service's dependencies by name: how to check each, and whether /health needs it up. */
export type DependencyChecks = Map<string, { check: DependencyCheck; required: boolean }>;

export type Lifecycle = 'starting' | 'ready' | 'draining' | 'closed';

export interface StatusSnapshot {
  service: string;
  instanceId: string;
  version: string;
  state: Lifecycle;
  pid: number;
  node: string;
  startedAt: string;
  uptimeSeconds: number;
  /** Times a supervisor restarted this instance after it died (RESTARTS). */
  restarts: number;
  memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
  eventLoopLagMs: { mean: number; p99: number; max: number };
  inFlightRequests: number;
  discovery: { url: string; registered: boolean };
  dependencies: Record<string, DependencyReport>;
}

/**
 * Samples event-loop delay continuously (10 ms resolution). Readings cover the current window,
 * which restarts every `windowMs` on a timer, so readers (/status, /dashboard) never disturb each other.
 */
export class EventLoopMonitor {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private last = { mean: 0, p99: 0, max: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(windowMs = 10_000) {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.last = this.snapshot();
      this.histogram.reset();
    }, windowMs);
    this.timer.unref();
  }

  /** Milliseconds of lag beyond the sampling resolution: the current window, or the last one while it is empty. */
  read(): { mean: number; p99: number; max: number } {
    return this.histogram.count > 0 ? this.snapshot() : this.last;
  }

  private snapshot(): { mean: number; p99: number; max: number } {
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, Math.round((ns / 1e6 - 10) * 100) / 100) : 0);
    return { mean: ms(this.histogram.mean), p99: ms(this.histogram.percentile(99)), max: ms(this.histogram.max) };
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

/** Runs every dependency check with a time limit; a check that throws or hangs reports `down`. */
export async function checkDependencies(
  checks: DependencyChecks,
  timeoutMs = 2_000,
): Promise<Record<string, DependencyReport>> {
  const entries = await Promise.all(
    [...checks].map(async ([name, { check, required }]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs} ms`)), timeoutMs);
          timer.unref();
        });
        const report = await Promise.race([Promise.resolve(check()), timeout]);
        return [name, { ...report, required }] as const;
      } catch (error) {
        return [name, { state: 'down' as const, required, detail: (error as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * `checkDependencies`, shared: a look begun less than `reuseMs` ago answers again (probes from many
 * pollers, discovery, load balancers and scrapers, cost one look a window, not one each).
 */
export function sharedDependencyChecks(
  checks: DependencyChecks,
  reuseMs: number,
): () => Promise<Record<string, DependencyReport>> {
  let last: { at: number; reports: Promise<Record<string, DependencyReport>> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at >= reuseMs) last = { at: now, reports: checkDependencies(checks) };
    return last.reports;
  };
}
