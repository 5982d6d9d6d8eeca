// auth's Prisma client on @prisma/adapter-pg, and the mapping of database errors to contract errors.
import { createError } from '@notify/lib';
import { createPrismaClient } from '@notify/lib/db';
import { PrismaClient } from '../../generated/prisma/client.ts';

export type Database = PrismaClient;

export function openDatabase(url: string, poolSize: number, onPoolError: (error: Error) => void): Database {
  return createPrismaClient(PrismaClient, { connectionString: url, poolSize, onPoolError });
}

/** Prisma's unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

/** A database that cannot be reached is UNAVAILABLE to the caller (retryable), not INTERNAL. */
export function unavailable(cause: unknown) {
  return createError({ code: 'UNAVAILABLE', message: 'auth database unavailable', cause });
}
