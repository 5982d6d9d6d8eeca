// Entry point: config → buildApp → migrate, join the push bus and listen; the kit closes it gracefully on SIGTERM/SIGINT.
import { loadConfigOrExit, runService } from '@notify/lib';
import { buildApp } from './app.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
await runService(buildApp(config).service);
