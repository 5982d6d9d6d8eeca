// Unread counts read from counter in batches: every count asked for in one turn of the event loop
// goes in one POST /api/counters/query (up to 10,000 users), so a thousand counters.get calls are
// a few reads, not a thousand. Not a cache: a read asked for joins only a batch not yet sent, so
// its answer is read after the call arrived (an ack's new count is never answered with the old).
import type { Upstreams } from './upstreams.ts';

/** Counter's largest query. */
const MAX_USERS = 10_000;

interface Waiter {
  resolve: (unread: number) => void;
  reject: (error: unknown) => void;
}

export class CounterReads {
  private pending = new Map<string, Waiter[]>();
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly upstreams: Pick<Upstreams, 'counter'>,
    /** Batches sent at once; more wait for one to come back (and grow meanwhile). */
    private readonly maxInFlight = 4,
  ) {}

  read(userId: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiters = this.pending.get(userId);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(userId, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.pending.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = new Map<string, Waiter[]>();
    for (const [userId, waiters] of this.pending) {
      if (batch.size === MAX_USERS) break;
      batch.set(userId, waiters);
      this.pending.delete(userId);
    }
    if (batch.size === 0) return;
    this.inFlight += 1;
    this.schedule();
    try {
      const { counters } = await this.upstreams.counter.queryCounters({ body: { userIds: [...batch.keys()] } });
      for (const [userId, waiters] of batch) for (const waiter of waiters) waiter.resolve(counters[userId] ?? 0);
    } catch (error) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.inFlight -= 1;
      this.schedule();
    }
  }
}
