// Public surface of the shared service kit: what the services use. Everything else in lib/src is
// the kit's own, reached by relative imports; database plumbing, test helpers, the RPC contract, the
// internal APIs' contracts and development tools have their own subpaths (@notify/lib/db, /testing,
// /rpc, /contracts, /dev).

// Building and running a service.
export { createService, type Service } from './service/create-service.ts';
export { runService } from './service/run-service.ts';
export { ConfigError, baseConfigShape, env, loadConfig, loadConfigOrExit } from './config.ts';
export { RequestValidationError, type ZodTypeProvider } from './service/validation.ts';
export { HTTP_DURATION_BUCKETS, METRIC } from './metrics/names.ts';

// Errors.
export { AppError, LOAD_SHED, createError, hasErrorCode, isErrorCode, isFinalRefusal } from './errors.ts';
export { REASON, type Reason } from './reasons.ts';
export { BODY_TOO_LARGE_IS_413, installErrorHandling, toAppError } from './service/error-handler.ts';

// Other services: discovery, calls, who may call.
export { ServiceWatcher, type Instance } from './discovery/service-watcher.ts';
export { MAILER_API_TAG } from './discovery/tags.ts';
export { UpstreamClient, type UpstreamRequest, type UpstreamResponse } from './balancing/upstream-client.ts';
export { contractClient } from './balancing/contract-client.ts';
export { serveRoute } from './service/contract-routes.ts';
export { HttpPools, originOf } from './http/http-pools.ts';
export { ServiceIdentity } from './identity/service-identity.ts';
export { actingUser } from './identity/caller-policy.ts';

// Two-phase commit.
export { txId } from './two-phase/protocol.ts';
export { Participant, defineAction, participantActions, type ActionItem, type SqlClient } from './two-phase/participant.ts';
export { sendNoVote } from './two-phase/participant-routes.ts';
export { attachParticipant, participantConfigShape } from './two-phase/attach.ts';
export { Coordinator, type Branch, type CoordinatorOptions, type Vote } from './two-phase/coordinator.ts';
export { defineTransaction, type TransactionPayloads } from './two-phase/transaction.ts';
export { coordinatorRoutes } from './two-phase/coordinator-routes.ts';

// Tracing (OpenTelemetry; no-ops unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
export {
  contextFrom,
  currentTraceId,
  currentTraceparent,
  failSpan,
  inContext,
  inSpan,
  linkFrom,
  logFields,
  SpanKind,
  startSpan,
  tracingOn,
  under,
  withSpan,
  type Span,
} from './tracing/tracing.ts';

// Small pieces several services share.
export { BoundedMap } from './cache/bounded-map.ts';
export { LruByteMap, type LruByteMapOptions } from './cache/lru-byte-map.ts';
export { ConcurrencyLimiter } from './concurrency/concurrency-limiter.ts';
export { escapeHtml } from './service/html.ts';
export { nameBasedUuid } from './name-based-uuid.ts';
export { findUnstorableText, UNSTORABLE_TEXT_MESSAGE } from './validation/storable-text.ts';
