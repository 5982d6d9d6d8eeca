// The whole path a service takes: generate its Prisma client offline, build the schema with our
// migration runner, then create and read rows through @prisma/adapter-pg.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createPrismaClient, type PrismaClientClass } from '../../src/db/index.ts';
import { generatePrismaClient } from '../../src/dev/index.ts';
import { toAppError } from '../../src/service/error-handler.ts';
import { testDatabase } from '../../src/testing/index.ts';
import { NOTES_MIGRATIONS_DIR, NOTES_SERVICE_DIR } from './helper.ts';

/** The slice of the generated client this test uses (the real type exists only after generation). */
interface NotesClient {
  notification: {
    create(args: { data: { recipient: string; body: string } }): Promise<{ id: number; recipient: string; body: string; createdAt: Date; readAt: Date | null }>;
    findMany(args: { where: { recipient: string } }): Promise<{ id: number; body: string }[]>;
    update(args: { where: { id: number }; data: { readAt: Date } }): Promise<{ readAt: Date | null }>;
  };
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $transaction<R>(fn: (tx: NotesClient) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  $disconnect(): Promise<void>;
}

test('a generated client creates and reads rows on tables built from migration.sql by our runner', async (t) => {
  const began = Date.now();
  await generatePrismaClient({ schema: join(NOTES_SERVICE_DIR, 'prisma', 'schema.prisma'), cwd: NOTES_SERVICE_DIR, inheritOutput: false });
  t.diagnostic(`prisma generate took ${Date.now() - began} ms`);

  const db = await testDatabase(t, { migrationsDir: NOTES_MIGRATIONS_DIR });
  const clientModule = pathToFileURL(join(NOTES_SERVICE_DIR, 'generated', 'prisma', 'client.ts')).href;
  const { PrismaClient } = (await import(clientModule)) as { PrismaClient: PrismaClientClass<NotesClient> };
  const prisma = createPrismaClient(PrismaClient, { connectionString: db.url, poolSize: 2 });
  t.after(() => prisma.$disconnect());

  const created = await prisma.notification.create({ data: { recipient: 'ada', body: 'hello' } });
  assert.equal(created.recipient, 'ada');
  assert.ok(created.createdAt instanceof Date, 'database default applied');
  assert.equal(created.readAt, null);
  await prisma.notification.create({ data: { recipient: 'bob', body: 'not for ada' } });

  const read = await prisma.notification.findMany({ where: { recipient: 'ada' } });
  assert.deepEqual(read.map((n) => ({ id: n.id, body: n.body })), [{ id: created.id, body: 'hello' }]);

  // A column from the second migration.
  const updated = await prisma.notification.update({ where: { id: created.id }, data: { readAt: new Date('2025-01-02T03:04:05Z') } });
  assert.deepEqual(updated.readAt, new Date('2025-01-02T03:04:05Z'));
});

test('values PostgreSQL refuses map to 400 and a database too busy to start a transaction to 503 with Retry-After', async (t) => {
  await generatePrismaClient({ schema: join(NOTES_SERVICE_DIR, 'prisma', 'schema.prisma'), cwd: NOTES_SERVICE_DIR, inheritOutput: false });
  const db = await testDatabase(t, { migrationsDir: NOTES_MIGRATIONS_DIR });
  const clientModule = pathToFileURL(join(NOTES_SERVICE_DIR, 'generated', 'prisma', 'client.ts')).href;
  const { PrismaClient } = (await import(clientModule)) as { PrismaClient: PrismaClientClass<NotesClient> };
  const prisma = createPrismaClient(PrismaClient, { connectionString: db.url, poolSize: 1 });
  t.after(() => prisma.$disconnect());

  const mapped = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return toAppError(error);
    }
    throw new Error('the database accepted it');
  };
  for (const refused of [
    prisma.notification.create({ data: { recipient: 'ada', body: 'a\u0000b' } }),
    prisma.$queryRawUnsafe('SELECT $1::text AS t', 'nul\u0000'),
    prisma.$queryRawUnsafe('SELECT $1::uuid AS id', 'not-a-uuid'),
    prisma.$queryRawUnsafe('SELECT $1::timestamptz AS at', '0000-01-01T00:00:00Z'),
  ]) {
    const error = await mapped(refused);
    assert.deepEqual([error.code, error.statusCode, error.details.reason], ['INVALID_ARGUMENT', 400, 'value_refused_by_database'], String(error.cause));
  }

  // One connection, held by a transaction: another cannot start within its maxWait.
  // (Its callback running means it holds the connection: on a busy machine BEGIN can take longer than maxWait.)
  let release!: () => void;
  let holds!: () => void;
  const held = new Promise<void>((resolve) => (holds = resolve));
  const holding = prisma.$transaction(
    async () =>
      new Promise<void>((resolve) => {
        release = resolve;
        holds();
      }),
    { timeout: 30_000, maxWait: 30_000 },
  );
  await held;
  const busy = await mapped(prisma.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1'), { maxWait: 100 }));
  release();
  await holding;
  assert.deepEqual([busy.code, busy.statusCode, busy.details.retryAfterSeconds], ['UNAVAILABLE', 503, 1], String(busy.cause));
});
