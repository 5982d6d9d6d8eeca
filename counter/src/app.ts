// buildApp(config): counter on the shared kit, a two-phase-commit participant. Never listens
// (service.listen() creates and migrates the database, listens, then starts the participant's sweeper).
import { join } from 'node:path';
import { attachParticipant, createService, type Service } from '@notify/lib';
import { attachDatabase } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';
import { ACTIONS } from './actions.ts';
import { counterRoutes } from './routes/counters.ts';
import type { Tx } from './store/database.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');

export interface CounterApp {
  service: Service;
}

export function buildApp(config: Readonly<Config>): CounterApp {
  const service = createService({ name: 'counter', config, defaultCallers: ['gateway'] });
  const { db } = attachDatabase(service, {
    PrismaClient,
    url: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    migrationsDir: MIGRATIONS_DIR,
  });
  attachParticipant<Tx>(service, { db, actions: ACTIONS, config });

  void service.app.register(counterRoutes, { db });
  return { service };
}
