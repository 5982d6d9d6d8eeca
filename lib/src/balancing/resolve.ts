// Strategy lookup by name; an unknown name fails loudly rather than falling back silently.
import type { BalancingStrategy } from './base.ts';
import { RandomStrategy } from './random.ts';
import { RoundRobinStrategy } from './round-robin.ts';

const STRATEGIES: Record<string, () => BalancingStrategy> = {
  'round-robin': () => new RoundRobinStrategy(),
  random: () => new RandomStrategy(),
};

export const STRATEGY_NAMES = Object.keys(STRATEGIES);

/** A new strategy instance for `name` ("round-robin", "random"); throws on an unknown name. */
export function resolveStrategy(name: string): BalancingStrategy {
  const make = STRATEGIES[name];
  if (!make) throw new Error(`unknown balancing strategy "${name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  return make();
}
