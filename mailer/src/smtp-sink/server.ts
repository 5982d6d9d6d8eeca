// Entry point of the SMTP sink that `npm start` runs: a real SMTP server on SMTP_PORT and, on PORT,
// a page (/) and JSON (/api/messages) showing what it received. Not part of a deployment: compose
// runs a real SMTP sink with a web view instead.
import { createService, loadConfigOrExit, runService, serveRoute } from '@notify/lib';
import { smtpSinkContract } from '@notify/lib/contracts';
import { sinkConfigSchema } from './config.ts';
import { renderInbox } from './page.ts';
import { SmtpSink } from './sink.ts';

const config = loadConfigOrExit(sinkConfigSchema);
const service = createService({ name: 'smtp-sink', config, defaultCallers: 'public' });
const sink = new SmtpSink({ port: config.SMTP_PORT, host: config.HOST, maxMessages: config.SINK_MAX_MESSAGES });
service.onPrepare(async () => {
  await sink.start();
  // The port bound (SMTP_PORT 0 takes a free one): a test system points its mailers at it.
  service.log.info({ port: sink.port }, 'smtp-sink receiving SMTP');
});
service.onClose(() => sink.stop());
service.app.get('/', async (_request, reply) =>
  reply.type('text/html; charset=utf-8').send(renderInbox(sink.messages(), { duplicates: sink.duplicates, smtpPort: config.SMTP_PORT })),
);
serveRoute(service.app, smtpSinkContract.routes.messages, {}, async () => ({ messages: [...sink.messages()], duplicates: sink.duplicates }));

await runService(service);
