// One user's flood waits on itself: past CALLS_PER_SECOND_PER_USER its calls wait their turn (none
// refused, none lost) while another user's calls are answered at once, on both transports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

const RATE = 10;
const BURST = 5;
const FLOOD = 40;

test('calls past the per-user rate wait instead of failing, and another user is served meanwhile', { timeout: 300_000 }, async (t) => {
  const system = await startSystem(t, { gatewayEnv: { CALLS_PER_SECOND_PER_USER: String(RATE), CALL_BURST_PER_USER: String(BURST) } });
  const gateway = system.gateways[0]!;
  const flooder = await jsonRpcClient(gateway, undefined, t);
  const account = await register(flooder, 'flooder');
  // The same user on socket.io too: one budget across both transports.
  const flooderIo = await socketIoClient(gateway, account.token, t);
  const bystander = await socketIoClient(gateway, undefined, t);
  const other = await register(bystander, 'bystander');
  // The flooder's bucket refills after registering (its calls so far were the address's).
  await new Promise((resolve) => setTimeout(resolve, (BURST / RATE) * 1000 + 200));

  const began = performance.now();
  let answered = 0;
  const flood = [...Array.from({ length: FLOOD / 2 }, () => flooder.call('counters.get')), ...Array.from({ length: FLOOD / 2 }, () => flooderIo.call('users.me'))].map((call) =>
    call.then((value) => {
      answered += 1;
      return value;
    }),
  );
  // The bystander is answered while the flooder's calls still wait.
  assert.equal((await bystander.call('users.me')).id, other.id);
  assert.ok(answered < FLOOD, `the bystander was answered before the flood was through (${answered} of ${FLOOD})`);
  const results = await Promise.all(flood);
  assert.ok(results.slice(0, FLOOD / 2).every((result) => typeof (result as { unread: number }).unread === 'number'), 'every waiting counters.get was answered, none refused');
  assert.ok(results.slice(FLOOD / 2).every((result) => (result as { id: string }).id === account.id), 'every waiting users.me was answered');
  // 40 calls of one user at 10 a second after a burst of 5: at least 3.5 s.
  assert.ok(performance.now() - began >= ((FLOOD - BURST) / RATE) * 1000 - 100, 'the flooder was held to its rate across both transports');
});
