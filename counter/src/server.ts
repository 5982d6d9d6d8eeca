// Entry point: config → buildApp → migrate, listen and start; the kit closes it gracefully on SIGTERM/SIGINT.
import { loadConfigOrExit, runService } from '@notify/lib';
import { buildApp } from './app.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
const counter = buildApp(config);
await runService(counter.service);
