// The durable queue in the mailer's own database (pg-boss): `email` holds one job per email and
// dead-letters into `email-dead` after its last retry; `email-trace` records sent notification
// emails in persist. Every mailer node works both queues; pg-boss hands each job to one node,
// heartbeats it, and gives it to another node when its node stops heartbeating (killed).
import type { FastifyBaseLogger } from 'fastify';
import { PgBoss, type Job, type JobResult, type JobWithMetadata } from 'pg-boss';
import { Gauge, type Registry } from 'prom-client';
import { METRIC } from '@notify/lib';
import { ensureDatabase } from '@notify/lib/db';
import type { Config } from '../config.ts';
import { jobIdOf, type EmailJob, type TraceJob } from '../domain/jobs.ts';

export const QUEUE = { email: 'email', dead: 'email-dead', trace: 'email-trace' } as const;
const SCHEMA = 'pgboss';
const QUEUE_STATES = ['ready', 'deferred', 'active', 'completed', 'failed'] as const;

/** Jobs of one queue by state: ready (due now), deferred (a retry waiting for its time), ... */
export type QueueCounts = { name: string } & Record<(typeof QUEUE_STATES)[number], number>;

export interface JobView {
  id: string;
  queue: string;
  state: string;
  kind: EmailJob['kind'];
  key: string;
  userId: string;
  retryCount: number;
  retryLimit: number;
  createdOn: string;
  startedOn: string | null;
  completedOn: string | null;
  output: unknown;
}

export class MailQueue {
  readonly boss: PgBoss;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly log: FastifyBaseLogger,
    metrics: Registry,
  ) {
    this.boss = new PgBoss({
      connectionString: config.DATABASE_URL,
      max: config.DB_POOL_SIZE,
      schema: SCHEMA,
      application_name: `mailer:${config.INSTANCE_ID ?? config.PORT}`,
      useListenNotify: true,
      monitorIntervalSeconds: config.QUEUE_MONITOR_INTERVAL_SECONDS,
      // Job expiry and lapsed heartbeats are found in the supervise pass.
      superviseIntervalSeconds: config.QUEUE_MONITOR_INTERVAL_SECONDS,
      // pg-boss's own spans would start a trace per job processed and per poll; a job carries its
      // sender's traceparent instead, and each send is a span of that trace (sender.ts).
      openTelemetry: { enabled: false },
    });
    this.boss.on('error', (error: Error) => log.error({ err: error }, 'job queue error'));
    const counts = () => this.counts();
    new Gauge({
      name: METRIC.mailerQueueJobs,
      help: 'Jobs in each queue by state (ready: due, waiting for a worker; deferred: a retry waiting for its time; completed and failed: kept for a week)',
      labelNames: ['queue', 'state'],
      registers: [metrics],
      async collect() {
        // A database hiccup keeps the last counts: /metrics must answer when it matters most.
        const latest = await counts().catch(() => undefined);
        if (!latest) return;
        this.reset();
        for (const queue of latest) {
          for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, queue[state]);
        }
      },
    });
  }

  /** Creates the database if missing, installs or migrates pg-boss's schema, and sets up the queues. */
  async start(): Promise<void> {
    await ensureDatabase(this.config.DATABASE_URL);
    await this.boss.start();
    const retries = {
      retryLimit: this.config.SEND_RETRY_LIMIT,
      retryDelay: this.config.SEND_RETRY_DELAY_SECONDS,
      retryBackoff: true,
      retryDelayMax: this.config.SEND_RETRY_DELAY_MAX_SECONDS,
    };
    // A job past this is failed (and retried) even if its node still heartbeats it: a hung send.
    const expireInSeconds = Math.ceil(this.config.SEND_EMAIL_TIMEOUT_MS / 1000) * 2 + 60;
    const settings = { ...retries, expireInSeconds, heartbeatSeconds: this.config.JOB_HEARTBEAT_SECONDS, notify: true };
    await this.boss.createQueue(QUEUE.dead, { retentionSeconds: 30 * 86_400 });
    await this.boss.createQueue(QUEUE.email, { ...settings, deadLetter: QUEUE.dead });
    await this.boss.createQueue(QUEUE.trace, settings);
    // createQueue keeps an existing queue as it is: bring its settings up to this configuration.
    await this.boss.updateQueue(QUEUE.email, { ...settings, deadLetter: QUEUE.dead });
    await this.boss.updateQueue(QUEUE.trace, settings);
  }

  /** Enqueues emails; a key already queued (or sent within the retention) is not queued again. */
  async enqueue(jobs: EmailJob[]): Promise<{ queued: number; duplicates: number; ids: string[] }> {
    const ids = jobs.map((job) => jobIdOf(job.key));
    const inserted = (await this.boss.insert(QUEUE.email, jobs.map((data, index) => ({ id: ids[index], data })), { returnId: true })) ?? [];
    return { queued: inserted.length, duplicates: jobs.length - inserted.length, ids };
  }

  /** Queues a digest to be sent at `startAfter` (its window's end); queued once per window, however often asked. */
  async enqueueDigest(job: EmailJob, startAfter: Date): Promise<void> {
    await this.boss.insert(QUEUE.email, [{ id: jobIdOf(job.key), data: job, startAfter }]);
  }

  /** Records a sent notification email in the trace; one job per email, whatever the retries. */
  async recordEmailed(key: string, event: TraceJob): Promise<void> {
    await this.boss.insert(QUEUE.trace, [{ id: jobIdOf(`${key}:emailed`), data: event }]);
  }

  /** Sends with `concurrency` workers on this node, one job each at a time. */
  async workEmails(concurrency: number, handle: (job: JobWithMetadata<EmailJob>) => Promise<JobResult>): Promise<void> {
    const options = {
      localConcurrency: concurrency,
      batchSize: 1,
      includeMetadata: true,
      perJobResults: true,
      ...this.polling(),
    } as const;
    await this.boss.work<EmailJob, JobResult[], typeof options>(QUEUE.email, options, async (jobs) => Promise.all(jobs.map(handle)));
  }

  async workTrace(handle: (job: Job<TraceJob>) => Promise<void>): Promise<void> {
    await this.boss.work<TraceJob>(
      QUEUE.trace,
      { localConcurrency: 2, batchSize: 1, ...this.polling() },
      async ([job]) => handle(job!),
    );
  }

  /**
   * New jobs wake workers through LISTEN/NOTIFY; a retry coming due does not, so the poll also runs
   * while notifications work (pg-boss would otherwise stretch it to 30 s then).
   */
  private polling() {
    const seconds = this.config.QUEUE_POLL_INTERVAL_MS / 1000;
    return { pollingIntervalSeconds: seconds, notifyPollingIntervalSeconds: seconds };
  }

  /** One email job by id, in the main queue or dead-lettered. */
  async job(id: string): Promise<JobView | undefined> {
    const [found] = await this.boss.findJobs<EmailJob>(QUEUE.email, { id });
    if (found) return view(found);
    const [dead] = await this.boss.findJobs<EmailJob>(QUEUE.dead, { id });
    return dead ? view(dead) : undefined;
  }

  /** The newest `limit` dead-lettered email jobs, newest first. */
  async dead(limit: number): Promise<JobView[]> {
    // One query with what view() reads (pg-boss's findJobs has no order or limit of this kind).
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT id, name, state, data, output, retry_count AS "retryCount", retry_limit AS "retryLimit",
              created_on AS "createdOn", started_on AS "startedOn", completed_on AS "completedOn"
         FROM ${SCHEMA}.job WHERE name = $1 ORDER BY created_on DESC, id LIMIT $2`,
      [QUEUE.dead, limit],
    );
    return (rows as JobRow[]).map(view);
  }

  /**
   * Exact job counts of the three queues, read from pg-boss's job table in one query (pg-boss's own
   * queue statistics are a cache refreshed by its monitor, up to a minute old).
   */
  async counts(): Promise<QueueCounts[]> {
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT q.name,
              count(j.*) FILTER (WHERE j.state IN ('created', 'retry') AND j.start_after <= now())::int AS ready,
              count(j.*) FILTER (WHERE j.state IN ('created', 'retry') AND j.start_after > now())::int AS deferred,
              count(j.*) FILTER (WHERE j.state = 'active')::int AS active,
              count(j.*) FILTER (WHERE j.state = 'completed')::int AS completed,
              count(j.*) FILTER (WHERE j.state = 'failed')::int AS failed
         FROM unnest($1::text[]) AS q(name) LEFT JOIN ${SCHEMA}.job j ON j.name = q.name
        GROUP BY q.name ORDER BY q.name`,
      [Object.values(QUEUE)],
    );
    return rows as QueueCounts[];
  }

  /**
   * Sends dead-lettered emails again (after the cause is fixed): the given dead jobs, or the oldest
   * `limit`. Resolves with how many were moved back into the `email` queue.
   */
  async redrive(options: { ids?: string[] | undefined; limit: number }): Promise<number> {
    return this.boss.redrive(QUEUE.dead, { destination: QUEUE.email, limit: options.limit, ...(options.ids ? { ids: options.ids } : {}) });
  }

  /** Stops fetching new jobs at once (the node is draining); the ones in hand go on. */
  async stopTaking(): Promise<void> {
    await Promise.all([this.boss.offWork(QUEUE.email, { wait: false }), this.boss.offWork(QUEUE.trace, { wait: false })]);
  }

  /** Stops taking jobs, lets the ones in hand finish (bounded), then closes the pool. */
  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: this.config.SEND_EMAIL_TIMEOUT_MS + 5_000, close: true });
  }
}

/** What a job view is made of: a pg-boss job, whether from findJobs or from our own query. */
type JobRow = Pick<JobWithMetadata<EmailJob>, 'id' | 'name' | 'state' | 'data' | 'output' | 'retryCount' | 'retryLimit' | 'createdOn' | 'startedOn' | 'completedOn'>;

function view(job: JobRow): JobView {
  return {
    id: job.id,
    queue: job.name,
    state: job.state,
    kind: job.data.kind,
    key: job.data.key,
    userId: job.data.userId,
    retryCount: job.retryCount,
    retryLimit: job.retryLimit,
    createdOn: job.createdOn.toISOString(),
    startedOn: job.startedOn ? new Date(job.startedOn).toISOString() : null,
    completedOn: job.completedOn ? job.completedOn.toISOString() : null,
    output: job.output ?? null,
  };
}
