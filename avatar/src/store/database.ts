// avatar's Prisma client type.
import type { PrismaClient } from '../../generated/prisma/client.ts';

export type Database = PrismaClient;
