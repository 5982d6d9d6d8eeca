// The registry's public surface.
export { ChangeFeed, type WaitOutcome } from './change-feed.ts';
export * from './consul-types.ts';
export { DurationError, formatDuration, parseDuration } from './duration.ts';
export { HttpCheck, statusForHttpCode, type HttpCheckTarget } from './http-check.ts';
export { Registry, type CheckUpdateResult, type RegistryLogger, type RegistryOptions } from './registry.ts';
export {
  parseCheckUpdateJson,
  parseServiceDefinition,
  parseServiceDefinitionJson,
  truncateOutput,
  type CheckDefinition,
  type ParseResult,
  type ServiceDefinition,
} from './service-definition.ts';
