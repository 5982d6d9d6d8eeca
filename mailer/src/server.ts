// Entry point: config → buildApp → prepare the queue, listen, work; the kit closes it gracefully
// on SIGTERM/SIGINT: no new jobs are taken, and sends in hand get SEND_EMAIL_TIMEOUT_MS to finish.
import { loadConfigOrExit, runService } from '@notify/lib';
import { buildApp } from './app.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
const mailer = buildApp(config);
await runService(mailer.service);
