// Entry point: builds the app if stale, then serves client/dist and /config.json (where the
// browser finds the gateway) on the kit, registered with discovery like every service.
import { mkdirSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import { createService, loadConfigOrExit, runService } from '@notify/lib';
import { buildIfStale, DIST } from './build.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
mkdirSync(DIST, { recursive: true });
const service = createService({ name: 'client', config, defaultCallers: 'public' });
void service.app.register(fastifyStatic, { root: DIST, index: 'index.html', maxAge: 0 });
service.app.get('/config.json', async () => ({ gatewayUrl: config.GATEWAY_URL }));

// Built as the first step of the start, so a signal or the launcher going away meanwhile closes it
// in order; the folder exists before @fastify/static (which checks its root) loads.
service.onPrepare(() => buildIfStale({ force: config.CLIENT_REBUILD, log: (message) => service.log.info(message) }));
await runService(service);
