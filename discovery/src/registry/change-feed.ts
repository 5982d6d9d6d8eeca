// Wakes blocked readers (Consul blocking queries) when the registry changes, or at their deadline.

/** Why a wait ended. */
export type WaitOutcome = 'changed' | 'timeout' | 'aborted' | 'closed';

interface Waiter {
  /** Re-evaluates the waiter's condition; ends the wait when it holds. */
  poke(): void;
  end(outcome: WaitOutcome): void;
}

/**
 * A set of pending waits. `notify()` after every change lets each waiter re-read its own index,
 * so a reader watching one service is woken only by changes that moved that service's index.
 */
export class ChangeFeed {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  /** How many reads are blocked right now. */
  get pending(): number {
    return this.waiters.size;
  }

  /**
   * Resolves once `changed()` turns true (checked now and after each notify), after `timeoutMs`,
   * when `signal` aborts, or when the feed closes.
   */
  waitFor(changed: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (changed()) return Promise.resolve('changed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const onAbort = () => waiter.end('aborted');
      const timer = setTimeout(() => waiter.end('timeout'), timeoutMs);
      timer.unref();
      const waiter: Waiter = {
        poke: () => {
          if (changed()) waiter.end('changed');
        },
        end: (outcome) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Lets every waiter re-check its condition. */
  notify(): void {
    for (const waiter of [...this.waiters]) waiter.poke();
  }

  /** Ends every wait with 'closed' (so in-flight requests can answer) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.end('closed');
  }
}
