// An upstream: a service name, its live instance list from discovery, and a strategy to pick from it.
import { createError } from '../errors.ts';
import type { Instance, ServiceWatcher } from '../discovery/service-watcher.ts';
import type { BalancingStrategy } from './base.ts';

export class Upstream {
  constructor(
    readonly watcher: ServiceWatcher,
    private readonly strategy: BalancingStrategy,
  ) {}

  get service(): string {
    return this.watcher.service;
  }

  /**
   * The next instance to call, chosen from the current snapshot, skipping any in `exclude`
   * (ids already tried by this call). Throws UNAVAILABLE when none is left.
   */
  pick(exclude: ReadonlySet<string> = new Set()): Instance {
    const snapshot = this.watcher.instances();
    const candidates = exclude.size ? snapshot.filter((instance) => !exclude.has(instance.id)) : snapshot;
    const chosen = this.strategy.pick(candidates);
    if (!chosen) {
      throw createError({ code: 'UNAVAILABLE', message: `no available instance of ${this.service}`, retryable: true });
    }
    return chosen;
  }
}
