// persist's Prisma client types.
import type { PrismaClient } from '../../generated/prisma/client.ts';

export type Database = PrismaClient;
/** The client handed to work inside one interactive transaction. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];
