// The steps a service hangs on its lifecycle and the order each kind runs in: the kit's one
// vocabulary for starting and stopping (the service factory decides when each kind runs).
//
// `service.listen()`
//   1. `onPrepare` steps, in the order added, once every plugin and route is loaded (fastify's
//      ready) and before the port opens: create and migrate the database, start a queue, join a bus.
//   2. open the port, register with discovery; /health answers 200; "<name> listening" is logged.
//   3. `onStart` steps, in the order added, given where the service listens: background work that
//      needs step 1 (sweepers, queue workers, recovery, discovery's own entry). None begins once a
//      close has begun.
//
// `service.close()`
//   4. `onDrain` steps, in the order added, as soon as the close begins: stop taking background
//      work, release requests that would hold the server open. A close that begins while the port
//      opens waits for it, so what was registered is deregistered; one that begins during the
//      prepare steps waits for the step in progress (its close step then finds what it started),
//      begins no other, and makes `listen()` fail, the port never opened.
//   5. fail the discovery check, keep serving DRAIN_DELAY_MS, stop accepting and drain in-flight
//      requests (at most SHUTDOWN_TIMEOUT_MS / 2), deregister, stop discovery watches.
//   6. `onClose` steps in reverse order of adding, so what was opened first closes last (a sweeper
//      stops before the pool it uses), then the clients from `service.client()`.
//
// A failing prepare or start step fails `listen()` (runService then closes and exits 1); a failing
// drain or close step is logged and the close goes on.
import type { FastifyBaseLogger } from 'fastify';

/** Where a listening service is: the address others reach it at, and its port. */
export interface Bound {
  address: string;
  port: number;
}

/** A lifecycle step: anything it throws is logged (drain, close) or fails the start (prepare, start). */
export type Step<A extends unknown[] = []> = (...args: A) => unknown;

export class LifecycleSteps {
  readonly prepare: Step[] = [];
  readonly start: Step<[Bound]>[] = [];
  readonly drain: Step[] = [];
  readonly close: Step[] = [];

  constructor(private readonly log: FastifyBaseLogger) {}

  /** Step 1: in order, none once `closing()` says a close has begun; the first failure fails the start. */
  async runPrepare(closing: () => boolean): Promise<void> {
    for (const step of this.prepare) {
      if (closing()) return;
      await step();
    }
  }

  /** Step 3: in order, none once `closing()` says a close has begun; the first failure fails the start. */
  async runStart(bound: Bound, closing: () => boolean): Promise<void> {
    for (const step of this.start) {
      if (closing()) return;
      await step(bound);
    }
  }

  /** Step 4: in order; failures are logged. */
  async runDrain(): Promise<void> {
    await this.runLogged(this.drain, 'drain step failed');
  }

  /** Step 6: in reverse order of adding; failures are logged. */
  async runClose(): Promise<void> {
    await this.runLogged([...this.close].reverse(), 'close step failed');
  }

  private async runLogged(steps: readonly Step[], message: string): Promise<void> {
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        this.log.error({ err: error }, message);
      }
    }
  }
}
