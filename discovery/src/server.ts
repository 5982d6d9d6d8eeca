// Entry point: config → buildApp → listen and list itself; the kit closes it gracefully on SIGTERM/SIGINT.
import { loadConfigOrExit, runService } from '@notify/lib';
import { buildApp } from './app.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
const discovery = await buildApp(config);
await runService(discovery.service);
