// Public surface of the shared service kit.
export * from './errors.ts';
export * from './config.ts';
export * from './metrics/names.ts';
export { instrumentHttp } from './metrics/http-metrics.ts';
export * from './service/create-service.ts';
export { runService } from './service/run-service.ts';
export { toAppError } from './service/error-handler.ts';
export { type ZodTypeProvider, RequestValidationError } from './service/validation.ts';
export type { DependencyCheck, DependencyReport, DependencyState, Lifecycle, StatusSnapshot } from './service/status.ts';
export { createConsulClient, toConsulDuration } from './discovery/consul-client.ts';
export { Registration, type RegistrationOptions } from './discovery/registration.ts';
export { ServiceWatcher, type Instance, type ServiceWatcherOptions } from './discovery/service-watcher.ts';
export { BalancingStrategy } from './balancing/base.ts';
export { RoundRobinStrategy } from './balancing/round-robin.ts';
export { RandomStrategy } from './balancing/random.ts';
export { resolveStrategy, STRATEGY_NAMES } from './balancing/resolve.ts';
export { Upstream } from './balancing/upstream.ts';
