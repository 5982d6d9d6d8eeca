// Each caller's (a user's, or before login an address's) share of the gateway: at most
// `maxInflight` calls under way at once and `perSecond` calls a second on average (bursts up to
// `burst`). A call past either waits its turn instead of being refused, and the connection it came
// from stops being read meanwhile, so a flood waits in its own socket buffers and costs the gateway
// nothing, while every other caller is served as if it were alone. Knows nothing of transports.

/** What the budget needs of a connection: to stop and resume reading it. */
export interface Readable {
  pauseReading(): void;
  resumeReading(): void;
}

export interface FairShareOptions {
  maxInflight: number;
  /** Average calls per second (tokens refilled per second); Infinity: no rate limit. */
  perSecond: number;
  /** Calls that may start at once after a quiet spell (the bucket's size). */
  burst: number;
  now?: () => number;
}

class Budget {
  inflight = 0;
  tokens: number;
  refilledAt: number;
  readonly waiters: (() => void)[] = [];
  readonly paused = new Set<Readable>();
  timer: NodeJS.Timeout | undefined;

  constructor(burst: number, now: number) {
    this.tokens = burst;
    this.refilledAt = now;
  }
}

export class FairShare {
  private readonly budgets = new Map<string, Budget>();
  private readonly now: () => number;

  constructor(private readonly options: FairShareOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Callers with calls under way or waiting (for metrics and tests). */
  get callers(): number {
    return this.budgets.size;
  }

  /** Calls waiting for their turn, over every caller. */
  get waiting(): number {
    let n = 0;
    for (const budget of this.budgets.values()) n += budget.waiters.length;
    return n;
  }

  /**
   * Resolves when `caller` may start a call (at once while under its share); the call must then
   * `release` once done. `from` stops being read while the call waits.
   */
  async acquire(caller: string, from: Readable): Promise<void> {
    const budget = this.budgetOf(caller);
    if (budget.waiters.length === 0 && this.tryStart(budget)) return;
    if (!budget.paused.has(from)) {
      budget.paused.add(from);
      from.pauseReading();
    }
    await new Promise<void>((resolve) => {
      budget.waiters.push(resolve);
      this.schedule(caller, budget);
    });
  }

  /** Ends a call of `caller` that `acquire` let start. */
  release(caller: string): void {
    const budget = this.budgets.get(caller);
    if (!budget) return;
    budget.inflight -= 1;
    this.drain(caller, budget);
  }

  private budgetOf(caller: string): Budget {
    let budget = this.budgets.get(caller);
    if (!budget) this.budgets.set(caller, (budget = new Budget(this.options.burst, this.now())));
    return budget;
  }

  private refill(budget: Budget): void {
    const now = this.now();
    if (!Number.isFinite(this.options.perSecond)) {
      budget.tokens = this.options.burst;
      budget.refilledAt = now;
      return;
    }
    budget.tokens = Math.min(this.options.burst, budget.tokens + ((now - budget.refilledAt) / 1000) * this.options.perSecond);
    budget.refilledAt = now;
  }

  private tryStart(budget: Budget): boolean {
    if (budget.inflight >= this.options.maxInflight) return false;
    this.refill(budget);
    if (budget.tokens < 1) return false;
    budget.tokens -= 1;
    budget.inflight += 1;
    return true;
  }

  /** Starts waiting calls while the share allows, resumes reading once none waits, forgets an idle full caller. */
  private drain(caller: string, budget: Budget): void {
    while (budget.waiters.length > 0 && this.tryStart(budget)) budget.waiters.shift()!();
    if (budget.waiters.length > 0) return this.schedule(caller, budget);
    for (const connection of budget.paused) connection.resumeReading();
    budget.paused.clear();
    if (budget.inflight > 0) return;
    this.refill(budget);
    if (budget.tokens >= this.options.burst) {
      clearTimeout(budget.timer);
      this.budgets.delete(caller);
    } else {
      // Kept until its bucket is full again, so going quiet for a moment does not reset the rate.
      this.schedule(caller, budget);
    }
  }

  /** A timer for when the next token is due (the next waiter's turn, or the bucket full). */
  private schedule(caller: string, budget: Budget): void {
    // Waiters held back by calls under way are started by their release, not by time.
    if (budget.timer || (budget.inflight >= this.options.maxInflight && budget.waiters.length > 0)) return;
    this.refill(budget);
    const needed = budget.waiters.length > 0 ? 1 - budget.tokens : this.options.burst - budget.tokens;
    if (needed <= 0 && budget.waiters.length > 0) return;
    const delayMs = Math.max(1, Math.ceil((Math.max(needed, 0) / this.options.perSecond) * 1000));
    budget.timer = setTimeout(() => {
      budget.timer = undefined;
      if (this.budgets.get(caller) === budget) this.drain(caller, budget);
    }, delayMs);
    budget.timer.unref();
  }
}
