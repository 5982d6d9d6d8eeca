// Entry point: builds the app if stale, then serves client/dist and /config.json (where the
// browser finds the gateway) on the kit, registered with discovery like every service.
import fastifyStatic from '@fastify/static';
import { createService, loadConfigOrExit, runService } from '@notify/lib';
import { buildIfStale, DIST } from './build.ts';
import { configSchema } from './config.ts';

const config = loadConfigOrExit(configSchema);
const service = createService({ name: 'client', config, defaultCallers: 'public' });
void service.app.register(fastifyStatic, { root: DIST, index: 'index.html', maxAge: 0 });
service.app.get('/config.json', async () => ({ gatewayUrl: config.GATEWAY_URL }));

// Built before fastify loads @fastify/static, which checks that its root exists.
await buildIfStale({ force: config.CLIENT_REBUILD, log: (message) => service.log.info(message) });
await runService(service);
