// A distributed transaction as one definition: its name (kept in the coordinator's log, so a
// recovered transaction finds its definition again), its participants' actions in prepare order,
// and what follows a commit. The coordinator runs definitions it was given by name; nothing else
// needs to know which actions a transaction is made of.
import type { z } from 'zod';
import type { ActionContract } from '../contracts/contract.ts';

/** One payload per participant, keyed by the participant's service name, as the caller builds it. */
export type TransactionPayloads<B extends readonly ActionContract[]> = { [A in B[number] as A['service']]: z.input<A['payload']> };

export interface TransactionSpec<B extends readonly ActionContract[]> {
  /** Each participant's action, in the order they are prepared; one per participant service. */
  branches: B;
  /**
   * Runs once every participant acknowledged a commit, for transactions run here and recovered
   * alike. Not awaited and not retried: a failure is logged. A crash before the transaction is
   * marked complete runs it again after recovery.
   */
  afterCommit?(payloads: TransactionPayloads<B>, txId: string): Promise<void> | void;
  /**
   * Work after a commit that must not be lost. Retried with phase 2's backoff until it resolves;
   * the transaction is marked complete only then, so a crash meanwhile runs it again from
   * `recover()`. It must therefore be safe to repeat.
   */
  followUp?(payloads: TransactionPayloads<B>, txId: string): Promise<void>;
}

export interface TransactionDefinition<B extends readonly ActionContract[] = readonly ActionContract[]> extends TransactionSpec<B> {
  readonly name: string;
}

export function defineTransaction<const B extends readonly ActionContract[]>(name: string, spec: TransactionSpec<B>): TransactionDefinition<B> {
  const services = spec.branches.map((branch) => branch.service);
  if (services.length === 0) throw new TypeError(`transaction ${name} needs at least one branch`);
  if (new Set(services).size !== services.length) throw new TypeError(`transaction ${name} names a participant twice: ${services.join(', ')}`);
  return { name, ...spec };
}

/** The participants and actions of a list of branches: how a log row from before names were kept finds its definition. */
export function shapeOf(branches: readonly { service: string; action: string }[]): string {
  return branches.map((branch) => `${branch.service}\u0000${branch.action}`).join('\u0001');
}
