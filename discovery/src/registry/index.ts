// The registry's public surface: what the routes and the app use.
export type { CheckStatus } from './consul-types.ts';
export { parseDuration } from './duration.ts';
export { CHECK_OUTPUT_LINE_MAX, foreignCheckTarget, foreignIds } from './http-check.ts';
export { Registry, RegistryClosedError, type CheckUpdateResult } from './registry.ts';
export { parseCheckUpdateJson, parseServiceDefinition, parseServiceDefinitionJson } from './service-definition.ts';
