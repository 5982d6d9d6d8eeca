// Random: each call takes a uniformly random instance; no shared state between callers.
import type { Instance } from '../discovery/service-watcher.ts';
import { BalancingStrategy } from './base.ts';

export class RandomStrategy extends BalancingStrategy {
  readonly name = 'random';

  pick(instances: readonly Instance[]): Instance | undefined {
    if (instances.length === 0) return undefined;
    return instances[Math.floor(Math.random() * instances.length)];
  }
}
