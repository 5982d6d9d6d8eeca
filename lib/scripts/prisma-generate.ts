// CLI: generate a service's Prisma client offline. From a service's package.json:
//   "generate": "node --import tsx ../lib/scripts/prisma-generate.ts prisma/schema.prisma"
import { generatePrismaClient } from '../src/dev/prisma-generate.ts';

const schema = process.argv[2] ?? 'prisma/schema.prisma';
try {
  if ((await generatePrismaClient({ schema })) === 'up to date') console.log(`prisma client of ${schema} is up to date`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
