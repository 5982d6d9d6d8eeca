// `npm run chaos`: the system of separate processes under load across two gateways, a SIGKILL and
// restart of every instance in turn (each kind, PostgreSQL twice), then the invariants. Prints the
// per-kill table; exits 1 on any invariant violation or an error window over CHAOS_MAX_ERROR_WINDOW_MS.
import { formatReport, runChaos, type Target } from './chaos/run.ts';

const maxErrorWindowMs = Number(process.env.CHAOS_MAX_ERROR_WINDOW_MS ?? 5_000);
/** CHAOS_TARGETS (comma-separated instance ids and `postgres`) narrows the run, e.g. `CHAOS_TARGETS=postgres`. */
const targets = (process.env.CHAOS_TARGETS?.split(',').map((target) => target.trim()).filter(Boolean) ??
  ['persist-1', 'counter-1', 'gateway-2', 'auth-1', 'discovery-1', 'postgres', 'persist-2', 'counter-2', 'gateway-1', 'auth-2', 'postgres']) as Target[];

const report = await runChaos({
  targets,
  downMs: 4_000,
  // CHAOS_SETTLE_MS: load time before, between and after the kills.
  settleMs: Number(process.env.CHAOS_SETTLE_MS ?? 10_000),
  load: { users: 12, publishers: 4, publishEveryMs: 250, ackShare: 0.5, archiveShare: 0.2, readAllEveryMs: 3_000 },
  log: (line) => console.log(`chaos | ${line}`),
});
console.log(formatReport(report));
const slow = report.kills.filter((row) => row.errorWindowMs > maxErrorWindowMs);
for (const row of slow) console.log(`!! errors went on ${(row.errorWindowMs / 1000).toFixed(1)} s after ${row.target} was back (limit ${maxErrorWindowMs / 1000} s)`);
process.exit(report.violations.length || slow.length ? 1 : 0);
