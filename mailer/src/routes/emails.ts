// The REST API (ENABLE_REST_API): enqueue the welcome email and a notification's emails, and
// inspect jobs. Enqueuing is idempotent: an email's key names its job, so a repeated request
// (a caller retrying after a lost answer) queues nothing twice. Each job carries the request's
// trace context (while tracing is on), so its send is part of the caller's trace.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createError, currentTraceparent, serveRoute, type ZodTypeProvider } from '@notify/lib';
import { mailerContract } from '@notify/lib/contracts';
import { inTrace, notificationJobs, welcomeJob } from '../domain/jobs.ts';
import type { MailQueue } from '../queue/mail-queue.ts';
import type { Counter } from 'prom-client';

/** Inspecting and redriving jobs is an operator's business (OPERATOR_TOKEN), not another service's. */
const operator = { callers: 'operator' } as const;
const jobParams = z.object({ id: z.uuid() });
const deadQuery = z.object({ limit: z.coerce.number().int().min(1).max(1_000).default(100) });
/** The given dead jobs, or the oldest `limit` of them. */
const redriveBody = z.strictObject({ ids: z.array(z.uuid()).min(1).max(1_000).optional(), limit: z.number().int().min(1).max(1_000).default(1_000) });

export async function emailRoutes(app: FastifyInstance, { queue, enqueued }: { queue: MailQueue; enqueued: Counter<'kind'> }): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  serveRoute(app, mailerContract.routes.welcome, { config: { callers: ['auth'] } }, async (request, reply) => {
    const result = await queue.enqueue(inTrace([welcomeJob(request.body)], currentTraceparent()));
    enqueued.inc({ kind: 'welcome' }, result.queued);
    reply.code(202);
    return { jobId: result.ids[0]!, queued: result.queued, duplicates: result.duplicates };
  });

  serveRoute(app, mailerContract.routes.notificationEmails, { config: { callers: ['gateway'] } }, async (request, reply) => {
    const result = await queue.enqueue(inTrace(notificationJobs(request.body), currentTraceparent()));
    enqueued.inc({ kind: 'notification' }, result.queued);
    reply.code(202);
    return { jobIds: result.ids, queued: result.queued, duplicates: result.duplicates };
  });

  typed.get('/api/jobs/:id', { schema: { params: jobParams }, config: operator }, async (request) => {
    const job = await queue.job(request.params.id);
    if (!job) throw createError({ code: 'NOT_FOUND', message: 'no such email job', details: { id: request.params.id } });
    return job;
  });

  typed.get('/api/jobs/dead', { schema: { querystring: deadQuery }, config: operator }, async (request) => ({ jobs: await queue.dead(request.query.limit) }));

  typed.post('/api/jobs/dead/redrive', { schema: { body: redriveBody }, config: operator }, async (request) => ({
    redriven: await queue.redrive({ ids: request.body.ids, limit: request.body.limit }),
  }));

  typed.get('/api/queues', { config: operator }, async () => ({ queues: await queue.counts() }));
}
