// The short chaos run (`npm run chaos` is the long one): its own system of separate processes
// (PostgreSQL with synchronous commit, discovery, auth ×2, persist ×2, counter ×2, gateway ×2)
// under publishes and acks across both gateways, one SIGKILL and restart of each kind of instance
// in turn, PostgreSQL included. Then: no invariant violated (counts equal unacknowledged
// deliveries, every answer truthful, nothing doubled or half-applied, nothing in doubt, no
// instance over its PostgreSQL connection budget), and after each kill errors stop within 5 s of
// the instance's return (for calls begun once it is back: one begun while it was down may still
// end at its own deadline).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runChaos } from '../scripts/chaos/run.ts';

const MAX_ERROR_WINDOW_MS = 5_000;

test('one SIGKILL of each kind, PostgreSQL included: no invariant violated, errors stop within 5 s of each return', { timeout: 15 * 60_000 }, async (t) => {
  const report = await runChaos({
    targets: ['persist-1', 'counter-1', 'gateway-2', 'auth-1', 'discovery-1', 'postgres'],
    downMs: 2_000,
    settleMs: 5_000,
    load: { users: 8, publishers: 2, publishEveryMs: 300, ackShare: 0.5, archiveShare: 0.2, readAllEveryMs: 2_000 },
    log: (line) => t.diagnostic(line),
  });
  for (const line of formatReport(report).split('\n')) if (line) t.diagnostic(line);
  assert.deepEqual(report.violations, []);
  assert.ok(report.calls.ok > 100, `the load ran (${report.calls.ok} calls answered ok)`);
  for (const row of report.kills) {
    assert.ok(row.errorWindowMs <= MAX_ERROR_WINDOW_MS, `errors went on ${row.errorWindowMs} ms after ${row.target} was back`);
  }
});
