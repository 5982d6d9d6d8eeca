// `npm run bench:inbox [-- options]`: how long `notifications.readAll` takes to mark a user's unread
// notifications read (one two-phase commit across persist and counter), on a system of its own
// (embedded durable PostgreSQL in a temp dir, discovery, auth ×2, persist, counter, gateway; 127.0.0.1,
// free ports; everything stopped at the end, on error and on Ctrl-C).
// Each run publishes UNREAD notifications to one reader (not timed), then times one readAll call
// from the reader's connection until its answer; the median of the runs is printed, with the time
// the same number of single `notifications.ack` calls took (one after another, as a browser marking
// each one did) for comparison on the first run. Target: 1,000 unread well under 1 s.
// Options: --runs=N (default 5), --unread=N (default 1000), --no-acks (skip the one-by-one comparison).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { inParallel, RpcSocket } from './lib/clients.ts';
import { fmt, log, median, table } from './lib/stats.ts';
import { startSystem, stopSystem } from './lib/system.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    unread: { type: 'string', default: '1000' },
    'no-acks': { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const UNREAD = Number(args.unread);

async function registered(port: number, name: string): Promise<{ socket: RpcSocket; id: string }> {
  const socket = await RpcSocket.open(port);
  const { user } = await socket.call('users.register', { email: `${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@bench.test`, password: 'bench password 1', name });
  return { socket, id: user.id };
}

/** Publishes `count` notifications to the topic, 50 in flight (under the 64 a connection may have); returns their ids. */
async function seed(publisher: RpcSocket, topicId: string, count: number): Promise<string[]> {
  const published = await inParallel(count, 50, (i) => publisher.call('notifications.publish', { topicId, title: `n${i}`, body: 'bench' }));
  return published.map(({ notification }) => notification.id);
}

async function main(): Promise<void> {
  const system = await startSystem({ durablePostgres: true, log });
  const port = system.gateway.port;
  const publisher = await registered(port, 'publisher');
  const reader = await registered(port, 'reader');
  const topic = await publisher.socket.call('topics.create', { name: `bench-inbox-${Date.now()}` });
  await reader.socket.call('topics.subscribe', { topicId: topic.id });

  const rows: string[][] = [];
  const times: number[] = [];
  let oneByOne: number | undefined;
  for (let run = 1; run <= RUNS; run += 1) {
    await seed(publisher.socket, topic.id, UNREAD);
    const { unread } = await reader.socket.call('counters.get');
    if (unread !== UNREAD) throw new Error(`expected ${UNREAD} unread before run ${run}, found ${unread}`);
    const started = performance.now();
    const answer = await reader.socket.call('notifications.readAll', {});
    const ms = performance.now() - started;
    if (answer.marked !== UNREAD || answer.unread !== 0) throw new Error(`run ${run}: readAll answered ${JSON.stringify(answer)}`);
    times.push(ms);
    rows.push([String(run), String(answer.marked), fmt(ms)]);
    log(`run ${run}: ${answer.marked} marked read in ${fmt(ms)} ms`);
  }
  if (!args['no-acks']) {
    // The way it was done before: one acknowledgement (one two-phase commit) per notification, in turn.
    const ids = await seed(publisher.socket, topic.id, UNREAD);
    const started = performance.now();
    for (const notificationId of ids) await reader.socket.call('notifications.ack', { notificationId });
    oneByOne = performance.now() - started;
  }

  console.log(`\nnotifications.readAll of ${UNREAD} unread (durable PostgreSQL, one gateway, persist, counter)\n`);
  console.log(table(['run', 'marked', 'ms'], rows));
  console.log(`\nmedian of ${RUNS} runs: ${fmt(median(times))} ms (target: well under 1,000 ms)`);
  if (oneByOne !== undefined) console.log(`the same ${UNREAD} acknowledged one by one: ${fmt(oneByOne)} ms`);
  await Promise.all([publisher.socket.close(), reader.socket.close()]);
}

try {
  await main();
} finally {
  await stopSystem();
}
