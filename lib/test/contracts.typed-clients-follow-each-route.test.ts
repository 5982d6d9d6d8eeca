// The typed clients built from the service contracts: each method sends its route's method, path
// (parameters encoded) and its template (naming the call's span), query (unset keys left out), body
// and idempotency, and acts for the user given. The calls at the end never run: they are there for `npm run typecheck`, which fails if a
// call that breaks its contract ever compiles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authContract, counterContract, persistContract, requestPath, serviceClient, type ContractRequest } from '../src/contracts/index.ts';

function recording() {
  const sent: ContractRequest[] = [];
  return { sent, send: async (request: ContractRequest) => (sent.push(request), {}) };
}

test('a typed client sends each route as the contract writes it', async () => {
  const { sent, send } = recording();
  const persist = serviceClient(persistContract, send);
  await persist.listSubscribers({ params: { id: 'a/b?c' }, query: { limit: 10_000, cursor: undefined } }, { user: 'ada' });
  await persist.createTopic({ body: { name: 'deploys' } }, { user: 'ada' });
  await persist.listTopics({ query: { mine: true } });
  const counter = serviceClient(counterContract, send);
  await counter.queryCounters({ body: { userIds: ['u1'] } });
  const auth = serviceClient(authContract, send);
  await auth.currentSession({}, { headers: { authorization: 'Bearer t' } });
  assert.deepEqual(sent, [
    { method: 'GET', path: '/api/topics/a%2Fb%3Fc/subscribers?limit=10000', route: '/api/topics/:id/subscribers', idempotent: true, user: 'ada' },
    { method: 'POST', path: '/api/topics', route: '/api/topics', body: { name: 'deploys' }, idempotent: false, user: 'ada' },
    { method: 'GET', path: '/api/topics?mine=true', route: '/api/topics', idempotent: true },
    { method: 'POST', path: '/api/counters/query', route: '/api/counters/query', body: { userIds: ['u1'] }, idempotent: true },
    { method: 'GET', path: '/api/sessions/current', route: '/api/sessions/current', idempotent: true, headers: { authorization: 'Bearer t' } },
  ]);
});

test('a path parameter left out is a programming error, not a request to the wrong path', () => {
  assert.throws(() => requestPath('/api/topics/:id/subscriptions', {}), /needs the path parameter id/);
  assert.equal(requestPath('/avatars/:seed.png', { seed: 'x y' }, { size: '64' }), '/avatars/x%20y.png?size=64');
});

test('every route of every contract names a method, a path and an answer', () => {
  for (const contract of [persistContract, counterContract, authContract]) {
    for (const [name, route] of Object.entries(contract.routes)) {
      assert.match(route.path, /^\/[a-z0-9/:_.-]+$/i, `${contract.service}.${name}`);
      assert.ok(route.response, `${contract.service}.${name} has an answer shape`);
      const parameters = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]);
      const declared = route.params ? Object.keys((route.params as unknown as { shape: object }).shape) : [];
      assert.deepEqual(parameters.sort(), declared.sort(), `${contract.service}.${name}: path parameters and params agree`);
    }
  }
});

/** Never called: each line must fail to compile, or `npm run typecheck` fails on its unused @ts-expect-error. */
export function callsThatBreakTheirContract(persist: ReturnType<typeof serviceClient<typeof persistContract.routes>>) {
  // @ts-expect-error a route that does not exist
  void persist.getTopics({ params: { id: 'x' } });
  // @ts-expect-error a path parameter missing
  void persist.getTopic({});
  // @ts-expect-error a body field of the wrong type
  void persist.createTopic({ body: { name: 42 } });
  // @ts-expect-error a body where the route takes none
  void persist.getTopic({ params: { id: 'x' }, body: {} });
  return persist.getTopic({ params: { id: 'x' } }).then((topic) => {
    // @ts-expect-error the answer has no such field
    void topic.title;
    return topic.name satisfies string;
  });
}
