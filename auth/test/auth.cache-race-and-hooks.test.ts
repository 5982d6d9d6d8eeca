// In-process checks of two orderings no integration test can force: an invalidation arriving while
// a cache miss reads the database must win over the read, and a slow or failing userRegistered hook
// must neither delay nor fail a registration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { FastifyBaseLogger } from 'fastify';
import { Accounts } from '../src/accounts.ts';
import { AuthCache } from '../src/cache/auth-cache.ts';
import type { Replicator } from '../src/cache/replication.ts';
import type { PasswordHasher } from '../src/domain/credentials.ts';
import type { PublicUser } from '../src/domain/schemas.ts';
import { createAuthMetrics } from '../src/metrics.ts';
import type { LoginThrottleStore } from '../src/store/login-throttle.ts';
import type { SessionRecord, SessionStore } from '../src/store/sessions.ts';
import type { UserStore } from '../src/store/users.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const newCache = () => new AuthCache({ ttlMs: 60_000, maxEntries: 100 }, createAuthMetrics(new Registry()));
const live: SessionRecord = { userId: '00000000-0000-4000-8000-000000000001', expiresAt: Date.now() + 3_600_000 };
const ada: PublicUser = { id: live.userId, email: 'ada@example.com', name: 'Ada', createdAt: new Date(0).toISOString() };

for (const [label, invalidate] of [
  ['invalidate() of that session', (cache: AuthCache) => cache.invalidate([{ cache: 'session', key: 'hash-1' }])],
  ['clear()', (cache: AuthCache) => cache.clear()],
] as const) {
  test(`a session read from the database while ${label} runs is returned but not cached`, async () => {
    const cache = newCache();
    const reading = deferred<SessionRecord | null>();
    const started = deferred<void>();
    const first = cache.session('hash-1', () => {
      started.resolve();
      return reading.promise;
    });
    await started.promise; // the database read is in flight…
    await invalidate(cache); // …when the logout's invalidation arrives…
    reading.resolve(live); // …and then the read answers with the session as it was before the logout.
    assert.deepEqual(await first, live, 'the racing request itself may see the old answer');

    let loads = 0;
    const next = await cache.session('hash-1', async () => {
      loads += 1;
      return null;
    });
    assert.equal(loads, 1, 'the next request goes to the database: nothing was cached');
    assert.equal(next, null);
  });
}

test('without an invalidation a loaded session is cached (the fix does not disable the cache)', async () => {
  const cache = newCache();
  await cache.session('hash-2', async () => live);
  let loads = 0;
  assert.deepEqual(
    await cache.session('hash-2', async () => {
      loads += 1;
      return null;
    }),
    live,
  );
  assert.equal(loads, 0);
});

test('registration answers without waiting for the userRegistered hook, whose failure is only logged', async () => {
  const errors: unknown[] = [];
  const log = { error: (...args: unknown[]) => errors.push(args), warn() {}, info() {}, debug() {} } as unknown as FastifyBaseLogger;
  const hook = deferred<void>();
  let hookCalls = 0;
  const accounts = new Accounts({
    users: {
      async createWithSession(input: { email: string; name: string }) {
        return { user: { id: ada.id, email: input.email, name: input.name, passwordHash: 'x', createdAt: new Date(0) }, session: live };
      },
    } as unknown as UserStore,
    sessions: {} as SessionStore,
    throttle: {
      async attempt(keys: string[]) {
        return keys.map((key) => ({ key, count: 1, windowStart: 0, secondsLeft: 60 }));
      },
      async undo() {},
    } as unknown as LoginThrottleStore,
    hasher: { hash: async () => 'hash' } as unknown as PasswordHasher,
    cache: newCache(),
    replicator: {} as Replicator,
    welcomeEmails: false,
    hooks: {
      userRegistered: async () => {
        hookCalls += 1;
        await hook.promise; // never settles by itself: a mailer that hangs
      },
    },
    metrics: createAuthMetrics(new Registry()),
    log,
    sessionTtlMs: 3_600_000,
    maxFailures: 5,
    maxRegistrationsPerClient: 20,
    hookTimeoutMs: 50,
  });

  const grant = await Promise.race([
    accounts.register({ email: 'ada@example.com', password: 'long enough', name: 'Ada' }, '10.0.0.1'),
    new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('register waited for the hook')), 1_000)),
  ]);
  assert.equal(grant.user.email, 'ada@example.com');
  assert.equal(hookCalls, 1, 'the hook was started');
  // The hung hook times out and is logged; the registration stands.
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(errors.length, 1);
  assert.match(String((errors[0] as [{ err: Error }])[0].err.message), /within 50 ms/);
  hook.resolve();
});
