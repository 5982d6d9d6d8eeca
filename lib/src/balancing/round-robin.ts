// Round-robin: each call takes the next instance of the current list, wrapping around.
import type { Instance } from '../discovery/service-watcher.ts';
import { BalancingStrategy } from './base.ts';

export class RoundRobinStrategy extends BalancingStrategy {
  readonly name = 'round-robin';
  private counter = 0;

  pick(instances: readonly Instance[]): Instance | undefined {
    if (instances.length === 0) return undefined;
    // The position is taken modulo the list it is applied to, so a list that shrank under us
    // can never yield an index out of range or a removed instance. Reset before the counter
    // leaves the safe-integer range.
    const index = this.counter % instances.length;
    this.counter = this.counter >= Number.MAX_SAFE_INTEGER ? 0 : this.counter + 1;
    return instances[index];
  }
}
