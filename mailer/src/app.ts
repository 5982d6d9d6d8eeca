// buildApp(config): a mailer node on the shared kit. Its workers take email jobs from the durable
// queue (at most MAX_CONCURRENT_SENDS at once); with ENABLE_REST_API it also serves the API that
// enqueues and inspects them, and registers with the `api` tag so callers find it. Never listens
// (service.listen() prepares the queue, listens and registers, then starts the workers).
import { Counter } from 'prom-client';
import { contractClient, createService, MAILER_API_TAG, METRIC, type Service } from '@notify/lib';
import { authContract, persistContract } from '@notify/lib/contracts';
import type { Config } from './config.ts';
import { DigestStore } from './queue/digest-store.ts';
import { MailQueue } from './queue/mail-queue.ts';
import { emailRoutes } from './routes/emails.ts';
import { Sender } from './sender.ts';
import { traceRecorder } from './trace-recorder.ts';
import { resolveTransport } from './transports/resolve.ts';

export interface MailerApp {
  service: Service;
  queue: MailQueue;
}

export function buildApp(config: Readonly<Config>, options: { logStream?: NodeJS.WritableStream } = {}): MailerApp {
  const service = createService({
    name: 'mailer',
    config,
    tags: config.ENABLE_REST_API ? [MAILER_API_TAG] : ['worker'],
    logStream: options.logStream,
  });
  const queue = new MailQueue(config, service.log, service.metrics);
  const transport = resolveTransport(config.SMTP_URL);
  const deadline = { deadlineMs: config.UPSTREAM_TIMEOUT_MS };
  const auth = contractClient(service.client('auth'), authContract, deadline);
  const persist = contractClient(service.client('persist'), persistContract, deadline);
  const digests = new DigestStore(config.DATABASE_URL);
  const sender = new Sender({ config, transport, queue, digests, auth, persist, log: service.log, metrics: service.metrics, instanceId: () => service.instanceId });
  const enqueued = new Counter({ name: METRIC.mailerEmailsEnqueuedTotal, help: 'Email jobs queued (duplicates not counted)', labelNames: ['kind'], registers: [service.metrics] });

  service.addDependency('queue', async () => {
    await queue.boss.getDb().executeSql('SELECT 1');
    return { state: 'up' };
  });
  service.onPrepare(async () => {
    await queue.start();
    await digests.start();
  });
  service.onStart(async () => {
    await queue.workEmails(config.MAX_CONCURRENT_SENDS, sender.handle);
    await queue.workTrace(traceRecorder({ persist, log: service.log, metrics: service.metrics }));
  });
  // Draining: no new sends from this node; the ones in hand finish in queue.stop() below, before
  // the kit closes the auth and persist clients they may still call.
  service.onDrain(() => queue.stopTaking());
  service.onClose(async () => {
    await queue.stop();
    await digests.close();
    transport.close();
  });
  if (config.ENABLE_REST_API) void service.app.register(emailRoutes, { queue, enqueued });

  return { service, queue };
}
