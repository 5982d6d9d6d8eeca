// buildApp(config): persist on the shared kit, a two-phase-commit participant. Never listens
// (service.listen() creates and migrates the database, listens, then starts the participant's sweeper).
import { join } from 'node:path';
import { attachParticipant, createService, type Service } from '@notify/lib';
import { attachDatabase } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';
import { ACTIONS } from './actions.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { preferenceRoutes } from './routes/preferences.ts';
import { requestId2pcRoutes } from './routes/request-id-2pc.ts';
import { topicRoutes } from './routes/topics.ts';
import type { Tx } from './store/database.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');

export interface PersistApp {
  service: Service;
}

export function buildApp(config: Readonly<Config>): PersistApp {
  const service = createService({ name: 'persist', config, defaultCallers: ['gateway'] });
  const { db } = attachDatabase(service, {
    PrismaClient,
    url: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    migrationsDir: MIGRATIONS_DIR,
  });
  const participant = attachParticipant<Tx>(service, { db, actions: ACTIONS, config });

  void service.app.register(topicRoutes, { db });
  void service.app.register(notificationRoutes, { db });
  void service.app.register(preferenceRoutes, { db });
  void service.app.register(requestId2pcRoutes, { participant });
  return { service };
}
