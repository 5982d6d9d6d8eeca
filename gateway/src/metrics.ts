// The gateway's own metrics: connections by transport, RPC calls by method and outcome, pushes and
// their fan-out latency, cache hits. Upstream, breaker and 2PC metrics come from the kit.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS, METRIC, type ConcurrencyLimiter } from '@notify/lib';
import type { ConnectionRegistry } from './connections.ts';

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export function createGatewayMetrics(registry: Registry, connections: ConnectionRegistry, admission: ConcurrencyLimiter) {
  return {
    queued: new Gauge({
      name: METRIC.gatewayTransactionsQueued,
      help: 'Publishes and acks waiting for their turn (TWO_PC_MAX_CONCURRENT were under way)',
      registers: [registry],
      collect() {
        this.set(admission.queued);
      },
    }),
    connections: new Gauge({
      name: METRIC.gatewayConnections,
      help: 'Open client connections by transport',
      labelNames: ['transport'] as const,
      registers: [registry],
      collect() {
        this.set({ transport: 'socket.io' }, connections.countBy('socket.io'));
        this.set({ transport: 'jsonrpc' }, connections.countBy('jsonrpc'));
      },
    }),
    refused: new Counter({
      name: METRIC.gatewayConnectionsRefusedTotal,
      help: 'Connections refused, by reason (limit: the instance is full; address: MAX_CONNECTIONS_PER_ADDRESS; user: MAX_CONNECTIONS_PER_USER; token)',
      labelNames: ['transport', 'reason'] as const,
      registers: [registry],
    }),
    slowReadersCut: new Counter({
      name: METRIC.gatewaySlowReadersCutTotal,
      help: 'Connections closed because their client let more than MAX_UNREAD_BYTES of pushes and answers pile up unread, by transport',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    rpc: new Counter({
      name: METRIC.gatewayRpcTotal,
      help: 'RPC calls by method, transport and outcome (ok or the error code)',
      labelNames: ['method', 'transport', 'outcome'] as const,
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: METRIC.gatewayRpcDuration,
      help: 'Seconds from a call received to its answer sent, by method',
      labelNames: ['method'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      registers: [registry],
    }),
    pushes: new Counter({
      name: METRIC.gatewayPushesTotal,
      help: 'Push messages sent to connections, by event',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    fanout: new Histogram({
      name: METRIC.gatewayPushFanout,
      help: 'Seconds from a transaction committed to its notification written to every local connection of its recipients',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    cache: new Counter({
      name: METRIC.gatewayCacheRequestsTotal,
      help: 'Gateway cache lookups by cache (token, subscribers) and result (hit, miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [registry],
    }),
    deliveryRecordFailures: new Counter({
      name: METRIC.gatewayDeliveryRecordFailuresTotal,
      help: 'Batches of delivered events that persist did not record (the push itself went out)',
      registers: [registry],
    }),
  };
}
