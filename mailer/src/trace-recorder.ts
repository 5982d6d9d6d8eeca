// Records `emailed` in a notification's trace (persist), from the `email-trace` queue: a persist
// outage delays the record, never the email, and never sends the email again. Recording continues
// the send's trace.
import type { FastifyBaseLogger } from 'fastify';
import type { Job } from 'pg-boss';
import { Counter, type Registry } from 'prom-client';
import { contextFrom, hasErrorCode, inSpan, METRIC, SpanKind } from '@notify/lib';
import type { persistContract, ServiceClient } from '@notify/lib/contracts';
import type { TraceJob } from './domain/jobs.ts';

export function traceRecorder(d: { persist: ServiceClient<typeof persistContract.routes>; log: FastifyBaseLogger; metrics: Registry }) {
  const recorded = new Counter({ name: METRIC.mailerTraceEventsTotal, help: '`emailed` trace events by outcome', labelNames: ['outcome'], registers: [d.metrics] });
  return (job: Job<TraceJob>): Promise<void> =>
    inSpan('email emailed event', { kind: SpanKind.CONSUMER, parent: contextFrom(job.data.traceparent) }, () => record(job));
  async function record(job: Job<TraceJob>): Promise<void> {
    const { notificationId, userId, messageId, sentAt } = job.data;
    try {
      await d.persist.recordEvent({ params: { id: notificationId }, body: { type: 'emailed', recipientId: userId, detail: { messageId, sentAt } } });
      recorded.inc({ outcome: 'recorded' });
    } catch (error) {
      // Persist knows no committed notification for this recipient: there is no trace to add to.
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') {
        recorded.inc({ outcome: 'no-notification' });
        d.log.warn({ notificationId, userId }, 'emailed event not recorded: persist knows no such delivery');
        return;
      }
      recorded.inc({ outcome: 'failed' });
      throw error;
    }
  }
}
