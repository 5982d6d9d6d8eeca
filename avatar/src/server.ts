// Entry point: config → buildApp → listen; the kit closes it gracefully on SIGTERM/SIGINT.
import { loadConfigOrExit, runService } from '@notify/lib';
import { buildApp } from './app.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
const avatar = buildApp(config);
await runService(avatar.service);
