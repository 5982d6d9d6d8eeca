// Each caller's (a user's, or before login an address's) share of the gateway: at most
// `maxInflight` calls under way at once and `perSecond` calls a second on average (bursts up to
// `burst`). A call past either waits its turn instead of being refused, and the connection it came
// from stops being read meanwhile, so a flood waits in its own socket buffers and costs the gateway
// nothing, while every other caller is served as if it were alone. At most `maxWaiting` calls of
// one caller wait; a connection that closes takes its waiting calls with it. Knows nothing of transports.
import { createError } from '@notify/lib';

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
  /** Calls of one caller that may wait at once; more are refused with RATE_LIMITED. */
  maxWaiting: number;
  now?: () => number;
}

interface Waiter {
  from: Readable;
  start: () => void;
  abandon: (error: Error) => void;
}

class Budget {
  inflight = 0;
  tokens: number;
  refilledAt: number;
  readonly waiters: Waiter[] = [];
  readonly paused = new Set<Readable>();
  timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (the `now()` clock). */
  timerDue = Infinity;

  constructor(burst: number, now: number) {
    this.tokens = burst;
    this.refilledAt = now;
  }
}

export class FairShare {
  private readonly budgets = new Map<string, Budget>();
  /** The callers each paused connection waits for (at most two: its address's and its user's). */
  private readonly pausedFor = new Map<Readable, Set<string>>();
  private readonly now: () => number;

  constructor(private readonly options: FairShareOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Callers with calls under way or waiting, or whose bucket is still refilling. */
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
   * `release` once done. `from` stops being read while the call waits. Rejects with RATE_LIMITED
   * when too many of the caller's calls wait already, or when `from` is abandoned meanwhile.
   */
  async acquire(caller: string, from: Readable): Promise<void> {
    const budget = this.budgetOf(caller);
    if (budget.waiters.length === 0 && this.tryStart(budget)) return;
    if (budget.waiters.length >= this.options.maxWaiting) {
      throw createError({ code: 'RATE_LIMITED', message: `more than ${this.options.maxWaiting} calls of one caller are waiting for their turn`, details: { retryAfterSeconds: 1 } });
    }
    if (!budget.paused.has(from)) {
      budget.paused.add(from);
      let callers = this.pausedFor.get(from);
      if (!callers) this.pausedFor.set(from, (callers = new Set()));
      callers.add(caller);
      from.pauseReading();
    }
    await new Promise<void>((start, abandon) => {
      budget.waiters.push({ from, start, abandon });
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

  /** Drops the waiting calls that came from `from` (its connection closed): they fail instead of running. */
  abandon(from: Readable): void {
    const callers = this.pausedFor.get(from);
    if (!callers) return;
    this.pausedFor.delete(from);
    for (const caller of callers) {
      const budget = this.budgets.get(caller);
      if (!budget?.paused.delete(from)) continue;
      const gone = budget.waiters.filter((waiter) => waiter.from === from);
      if (gone.length === 0) continue;
      budget.waiters.splice(0, budget.waiters.length, ...budget.waiters.filter((waiter) => waiter.from !== from));
      for (const waiter of gone) waiter.abandon(createError({ code: 'UNAVAILABLE', message: 'the connection closed before the call’s turn came' }));
      this.drain(caller, budget);
    }
  }

  private budgetOf(caller: string): Budget {
    let budget = this.budgets.get(caller);
    if (!budget) this.budgets.set(caller, (budget = new Budget(this.options.burst, this.now())));
    return budget;
  }

  private refill(budget: Budget): void {
    const now = this.now();
    budget.tokens = Number.isFinite(this.options.perSecond)
      ? Math.min(this.options.burst, budget.tokens + ((now - budget.refilledAt) / 1000) * this.options.perSecond)
      : this.options.burst;
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

  /** Starts waiting calls while the share allows; then settles what is left. */
  private drain(caller: string, budget: Budget): void {
    while (budget.waiters.length > 0 && this.tryStart(budget)) budget.waiters.shift()!.start();
    this.settle(caller, budget);
  }

  /** Resumes reading once nothing waits, and forgets an idle caller whose bucket is full; otherwise arms the timer. */
  private settle(caller: string, budget: Budget): void {
    if (budget.waiters.length === 0) {
      for (const connection of budget.paused) {
        connection.resumeReading();
        const callers = this.pausedFor.get(connection);
        callers?.delete(caller);
        if (callers?.size === 0) this.pausedFor.delete(connection);
      }
      budget.paused.clear();
      if (budget.inflight === 0) {
        this.refill(budget);
        if (budget.tokens >= this.options.burst) {
          clearTimeout(budget.timer);
          this.budgets.delete(caller);
          return;
        }
      }
    }
    this.schedule(caller, budget);
  }

  /**
   * A timer for when the next token is due (the first waiter's turn) or, for an idle caller, for
   * when its bucket is full again (so it is kept meanwhile: going quiet for a moment does not reset
   * the rate). Waiters held back by calls under way are started by their release, not by time.
   */
  private schedule(caller: string, budget: Budget): void {
    const waiting = budget.waiters.length > 0;
    if (waiting && budget.inflight >= this.options.maxInflight) return;
    if (!waiting && budget.inflight > 0) return;
    this.refill(budget);
    const tokensNeeded = (waiting ? 1 : this.options.burst) - budget.tokens;
    const delayMs = Number.isFinite(this.options.perSecond) ? Math.max(1, Math.ceil((Math.max(tokensNeeded, 0) / this.options.perSecond) * 1000)) : 1;
    const due = this.now() + delayMs;
    if (budget.timer && budget.timerDue <= due) return;
    clearTimeout(budget.timer);
    budget.timerDue = due;
    budget.timer = setTimeout(() => {
      budget.timer = undefined;
      budget.timerDue = Infinity;
      if (this.budgets.get(caller) === budget) this.drain(caller, budget);
    }, delayMs);
    budget.timer.unref();
  }
}
