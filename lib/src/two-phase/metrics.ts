// Two-phase-commit participant metrics, registered on the service's registry.
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC } from '../metrics/names.ts';

export type TwoPhaseMetrics = ReturnType<typeof createTwoPhaseMetrics>;

/**
 * `inDoubt` is queried at scrape time, once for both gauges; when the database cannot answer,
 * the gauges keep their last values and /metrics still answers (a scrape is when it matters).
 */
export function createTwoPhaseMetrics(registry: Registry, inDoubt: () => Promise<{ count: number; oldestSeconds: number }>) {
  let reading: Promise<{ count: number; oldestSeconds: number } | undefined> | undefined;
  const read = () => {
    reading ??= inDoubt()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (reading = undefined)));
    return reading;
  };
  new Gauge({
    name: METRIC.twoPhaseInDoubt,
    help: 'Transactions prepared here and not yet decided',
    registers: [registry],
    async collect() {
      const figures = await read();
      if (figures) this.set(figures.count);
    },
  });
  new Gauge({
    name: METRIC.twoPhaseInDoubtOldest,
    help: 'Age in seconds of the oldest transaction prepared here and not yet decided (0 when none)',
    registers: [registry],
    async collect() {
      const figures = await read();
      if (figures) this.set(figures.oldestSeconds);
    },
  });
  return {
    prepares: new Counter({
      name: METRIC.twoPhasePreparesTotal,
      help: 'Prepare requests by action and vote (yes, no)',
      labelNames: ['action', 'vote'] as const,
      registers: [registry],
    }),
    commits: new Counter({ name: METRIC.twoPhaseCommitsTotal, help: 'Transactions committed, by action', labelNames: ['action'] as const, registers: [registry] }),
    rollbacks: new Counter({ name: METRIC.twoPhaseRollbacksTotal, help: 'Prepared transactions rolled back, by action', labelNames: ['action'] as const, registers: [registry] }),
    failures: new Counter({
      name: METRIC.twoPhaseDecisionFailuresTotal,
      help: 'Commits or rollbacks that failed (the transaction stays prepared and is retried), by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    resolved: new Counter({
      name: METRIC.twoPhaseResolvedTotal,
      help: 'In-doubt transactions resolved by asking the coordinator, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}
