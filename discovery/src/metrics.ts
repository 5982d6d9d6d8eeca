// Discovery's own metrics: registered instances by health, and blocking queries held open.
import { Gauge, type Registry as MetricsRegistry } from 'prom-client';
import { METRIC } from '@notify/lib';
import type { Registry } from './registry/index.ts';

const SEVERITY = { passing: 0, warning: 1, critical: 2 } as const;

export function registerDiscoveryMetrics(metrics: MetricsRegistry, registry: Registry): void {
  new Gauge({
    name: METRIC.discoveryRegistryInstances,
    help: 'Registered instances by service and aggregated health (the worst of their checks)',
    labelNames: ['target', 'status'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      const worst = new Map<string, { target: string; status: keyof typeof SEVERITY }>();
      for (const [id, service] of Object.entries(registry.agentServices())) worst.set(id, { target: service.Service, status: 'passing' });
      for (const check of Object.values(registry.agentChecks())) {
        const entry = worst.get(check.ServiceID);
        if (entry && SEVERITY[check.Status] > SEVERITY[entry.status]) entry.status = check.Status;
      }
      for (const { target, status } of worst.values()) this.inc({ target, status });
    },
  });
  new Gauge({
    name: METRIC.discoveryBlockingQueries,
    help: 'Blocking queries (watches) currently held open',
    registers: [metrics],
    collect() {
      this.set(registry.blockedReads);
    },
  });
}
