// Work of many pushes gathered into few calls: items added while a flush is in flight wait and
// form the next one (at most `maxItems`); an idle coalescer flushes on the next turn of the event
// loop. The fan-out's bookkeeping (delivered events for the trace, unread counts to push) goes
// through here, off the push path: one upstream call per turn instead of one per notification.
export class Coalescer<T> {
  private pending: T[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
  ) {}

  add(items: T[]): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    this.schedule();
  }

  /** Resolves once everything added so far has been flushed. */
  async drain(): Promise<void> {
    while (this.pending.length || this.flushing) await (this.flushing ?? this.run());
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private run(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return this.flushing ?? Promise.resolve();
    const items = this.pending.splice(0, this.maxItems);
    // `flush` handles its own failures; a throw here would only be a bug, so it is not swallowed silently.
    this.flushing = this.flush(items).finally(() => {
      this.flushing = undefined;
      if (this.pending.length) this.schedule();
    });
    return this.flushing;
  }
}
