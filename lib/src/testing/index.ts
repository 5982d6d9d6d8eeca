// Test helpers services share (package subpath @notify/lib/testing); never imported by production code.
export {
  startTestPostgres,
  testDatabase,
  TEST_DATABASE_URL_ENV,
  type StartTestPostgresOptions,
  type TestDatabase,
  type TestDatabaseOptions,
  type TestDatabaseOwner,
} from './postgres.ts';
export { spawnService, type ServiceProcess, type SpawnServiceOptions } from './service-process.ts';
export { startFakeCoordinator, type FakeCoordinator } from './fake-coordinator.ts';
export { sendRaw } from './http.ts';
export { metricSample, metricSum } from './metrics.ts';
export { serviceHeaders, TEST_DISCOVERY_TOKEN, TEST_SERVICE_SECRET } from './service-identity.ts';
export { freeBadPort } from './bad-port.ts';
export { startKillablePostgres, type KillablePostgres } from './killable-postgres.ts';
export { TOPOLOGY, serviceSpec, titleOf, type ExtraPort, type Place, type ServiceSpec, type Topology } from './topology.ts';
export {
  launchProcess,
  planSystem,
  plannedInstance,
  startSystem,
  systemEnv,
  type Launch,
  type LaunchedInstance,
  type PlannedInstance,
  type PlanOptions,
  type RegistryCredentials,
  type RunningSystem,
  type RunSettings,
  type ServiceOverride,
  type StartSystemOptions,
  type SystemProcess,
} from './start-system.ts';
export { mailbox, type Mailbox, type ReceivedMail } from './mailbox.ts';
export { CHEAP_PASSWORDS, FAST_MAIL_QUEUE } from './quick-settings.ts';
export { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan, type ReceivedSpanKind } from './otlp-receiver.ts';
