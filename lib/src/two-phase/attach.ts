// Makes a kit service a two-phase-commit participant: the state machine, its routes, its metrics,
// and the sweeper, started with the service and stopped before its database closes.
import type { z } from 'zod';
import { env } from '../config.ts';
import type { Service } from '../service/create-service.ts';
import { createTwoPhaseMetrics } from './metrics.ts';
import { Participant, type ParticipantAction, type SqlClient } from './participant.ts';
import { participantRoutes } from './participant-routes.ts';

/** The configuration keys of a two-phase-commit participant. */
export function participantConfigShape() {
  return {
    COORDINATOR_SERVICE: env.string('gateway', 'Discovery name of the two-phase-commit coordinator'),
    TWO_PC_SWEEP_INTERVAL_MS: env.int(1_000, 'How often prepared transactions past their timeout are resolved with the coordinator', 50),
    COORDINATOR_TIMEOUT_MS: env.int(2_000, 'Longest a question to the coordinator may take', 50),
    TWO_PC_DB_TIMEOUT_MS: env.int(10_000, 'Longest one prepare, commit or rollback may hold its database transaction', 100),
    TWO_PC_RETENTION_MS: env.int(7 * 24 * 3600_000, 'How long decided transactions are remembered (idempotent replies, late prepares)', 60_000),
  };
}

export type ParticipantConfig = z.infer<z.ZodObject<ReturnType<typeof participantConfigShape>>>;

/** A generated Prisma client, as far as a participant uses it. */
export interface ParticipantDatabase<Tx extends SqlClient> extends SqlClient {
  $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: { timeout?: number; maxWait?: number }): Promise<R>;
}

export interface AttachParticipantOptions<Tx extends SqlClient> {
  db: ParticipantDatabase<Tx>;
  actions: Record<string, ParticipantAction<Tx, unknown>>;
  config: Readonly<ParticipantConfig>;
}

export function attachParticipant<Tx extends SqlClient>(service: Service, { db, actions, config }: AttachParticipantOptions<Tx>): Participant<Tx> {
  const participant: Participant<Tx> = new Participant<Tx>({
    transaction: (fn) => db.$transaction(fn, { timeout: config.TWO_PC_DB_TIMEOUT_MS, maxWait: config.TWO_PC_DB_TIMEOUT_MS }),
    db,
    actions,
    // Resolved lazily: a participant that never has an overdue transaction never watches the coordinator.
    coordinator: () => service.upstream(config.COORDINATOR_SERVICE),
    // Read at scrape time; by then `participant` exists.
    metrics: createTwoPhaseMetrics(service.metrics, () => participant.inDoubt()),
    log: service.log,
    identity: service.identity,
    sweepIntervalMs: config.TWO_PC_SWEEP_INTERVAL_MS,
    coordinatorTimeoutMs: config.COORDINATOR_TIMEOUT_MS,
    retentionMs: config.TWO_PC_RETENTION_MS,
  });
  void service.app.register(participantRoutes<Tx>, { participant, coordinator: config.COORDINATOR_SERVICE });
  // A start step, so after the prepare steps' migrations: the sweeper needs the state table and the coordinator.
  service.onStart(() => participant.startSweeper());
  // Close steps run in reverse order of adding: attach after opening the database, and the sweeper
  // stops before the database closes.
  service.onClose(() => participant.stop());
  return participant;
}
