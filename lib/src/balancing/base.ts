// A balancing strategy chooses one instance from the current list for each call.
import type { Instance } from '../discovery/service-watcher.ts';

export abstract class BalancingStrategy {
  /** Strategy name, as `resolveStrategy` knows it. */
  abstract readonly name: string;

  /** Picks one of `instances`, or undefined when the list is empty. Must only return a member of the list. */
  abstract pick(instances: readonly Instance[]): Instance | undefined;
}
