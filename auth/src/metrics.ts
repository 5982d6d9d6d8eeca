// auth's domain metrics, registered on the service's registry where the service is built.
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC } from '@notify/lib';

export type AuthMetrics = ReturnType<typeof createAuthMetrics>;

export function createAuthMetrics(registry: Registry) {
  return {
    logins: new Counter({
      name: METRIC.authLoginsTotal,
      help: 'Login attempts by result: success, failure (wrong email or password), rate_limited',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    registrations: new Counter({
      name: METRIC.authRegistrationsTotal,
      help: 'Users registered',
      registers: [registry],
    }),
    cache: new Counter({
      name: METRIC.authCacheRequestsTotal,
      help: 'Local cache look-ups by cache (session, user) and result (hit, miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [registry],
    }),
    replication: new Counter({
      name: METRIC.authReplicationMessagesTotal,
      help: 'Cache replication messages by direction (sent, received) and result (ok, failed, gap, unauthorized)',
      labelNames: ['direction', 'result'] as const,
      registers: [registry],
    }),
    lag: new Histogram({
      name: METRIC.authReplicationLag,
      help: 'Seconds from a write on one node to its invalidation applied on another (messages of current peers only)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    publish: new Histogram({
      name: METRIC.authReplicationPublish,
      help: 'Seconds a write waited for every other auth node to apply it',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
  };
}
