// `@notify/lib/contracts`: every internal API as code (routes and two-phase-commit actions).
export * from './contract.ts';
export * from './shapes.ts';
export * from './persist.ts';
export * from './counter.ts';
export * from './auth.ts';
export * from './mailer.ts';
export * from './avatar.ts';
// The two-phase-commit participant protocol every participant serves and the coordinator calls.
export * from '../two-phase/protocol.ts';
export type { ErrorCode } from '../errors.ts';
export * from './smtp-sink.ts';
