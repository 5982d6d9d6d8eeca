// persist's Prisma client types, and the mapping of its errors.
import type { PrismaClient } from '../../generated/prisma/client.ts';

export type Database = PrismaClient;
/** The client handed to work inside one interactive transaction. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** Prisma's unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}
