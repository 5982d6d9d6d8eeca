// When the launcher restarts an instance that died, and when it gives up: each death waits a
// little longer (0.5 s, doubling up to 10 s, counted over the recent deaths), and too many deaths
// of one instance in a short window mean something is wrong that restarting will not fix.

export interface RestartPolicyOptions {
  /** Deaths of one instance within `windowMs` that end the run. */
  maxCrashes: number;
  windowMs: number;
  /** Pause before the first restart; doubled for each further recent death. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type RestartDecision = { restart: true; inMs: number; recent: number } | { restart: false; recent: number };

export class RestartPolicy {
  private readonly deaths = new Map<string, number[]>();
  private readonly totals = new Map<string, number>();

  constructor(private readonly o: RestartPolicyOptions) {}

  /** Records a death of `id` at `now` and says whether (and after how long) to start it again. */
  onDeath(id: string, now = Date.now()): RestartDecision {
    const recent = [...(this.deaths.get(id) ?? []).filter((at) => now - at < this.o.windowMs), now];
    this.deaths.set(id, recent);
    this.totals.set(id, this.restarts(id) + 1);
    if (recent.length >= this.o.maxCrashes) return { restart: false, recent: recent.length };
    const inMs = Math.min(this.o.maxDelayMs ?? 10_000, (this.o.baseDelayMs ?? 500) * 2 ** (recent.length - 1));
    return { restart: true, inMs, recent: recent.length };
  }

  /** Deaths of `id` so far in this run (each one restarted, except a last one that ended the run). */
  restarts(id: string): number {
    return this.totals.get(id) ?? 0;
  }
}
