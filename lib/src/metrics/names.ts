// Metric names shared by every service, in one place so dashboards and rules can rely on them.

export const METRIC = {
  httpRequestsTotal: 'http_requests_total',
  httpRequestDuration: 'http_request_duration_seconds',
  httpRequestsInFlight: 'http_requests_in_flight',
  serviceInfo: 'service_info',
  discoveryRegistered: 'discovery_registered',
  discoveryHeartbeatFailuresTotal: 'discovery_heartbeat_failures_total',
  discoveryWatchInstances: 'discovery_watch_instances',
  discoveryWatchErrorsTotal: 'discovery_watch_errors_total',
  discoveryRegistryInstances: 'discovery_registry_instances',
  discoveryBlockingQueries: 'discovery_blocking_queries',
  upstreamRequestsTotal: 'upstream_requests_total',
  upstreamRequestDuration: 'upstream_request_duration_seconds',
  circuitBreakerState: 'circuit_breaker_state',
  coordinatorTransactionsTotal: 'twopc_coordinator_transactions_total',
  coordinatorDuration: 'twopc_coordinator_decision_seconds',
  coordinatorInDoubt: 'twopc_coordinator_in_doubt',
  twoPhasePreparesTotal: 'twopc_participant_prepares_total',
  twoPhaseCommitsTotal: 'twopc_participant_commits_total',
  twoPhaseRollbacksTotal: 'twopc_participant_rollbacks_total',
  twoPhaseResolvedTotal: 'twopc_participant_resolved_total',
  twoPhaseDecisionFailuresTotal: 'twopc_participant_decision_failures_total',
  twoPhaseInDoubt: 'twopc_participant_in_doubt',
  twoPhaseInDoubtOldest: 'twopc_participant_in_doubt_oldest_seconds',
  authLoginsTotal: 'auth_logins_total',
  authRegistrationsTotal: 'auth_registrations_total',
  authCacheRequestsTotal: 'auth_cache_requests_total',
  authReplicationMessagesTotal: 'auth_replication_messages_total',
  authReplicationLag: 'auth_replication_lag_seconds',
  authReplicationPublish: 'auth_replication_publish_seconds',
} as const;

/** Seconds; spans a fast in-process answer (1 ms) to a slow upstream call (10 s). */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
