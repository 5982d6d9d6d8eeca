// persist's Prisma client on @prisma/adapter-pg.
import { createPrismaClient } from '@notify/lib/db';
import { PrismaClient } from '../../generated/prisma/client.ts';

export type Database = PrismaClient;
/** The client handed to work inside one interactive transaction. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

export function openDatabase(url: string, poolSize: number, onPoolError: (error: Error) => void): Database {
  return createPrismaClient(PrismaClient, { connectionString: url, poolSize, onPoolError });
}

/** Prisma's unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}
