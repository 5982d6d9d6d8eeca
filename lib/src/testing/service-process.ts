// Test helper: a service as a real child process, ready once it logs that it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { serviceHeaders, TEST_DISCOVERY_TOKEN, TEST_SERVICE_SECRET } from './service-identity.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
/**
 * 120 s: a service's first log line. On a loaded 2-core CI machine starting many processes at
 * once, a start has taken more than 60 s (no line at all by then; the same start takes 2 s alone).
 */
const START_TIMEOUT_MS = 120_000;
/** Longest a stopped service may take to exit before it is killed and the stop fails (its drain and close steps are far shorter). */
const STOP_TIMEOUT_MS = 60_000;

export interface ServiceProcess {
  readonly process: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Its service name (discovery's, and the audience of credentials for it). */
  readonly service: string;
  /** Headers of a call from `caller` (default: the gateway) to this service, acting for `user` when given. */
  headers(user?: string, caller?: string): Record<string, string>;
  /** Every log line so far, parsed when JSON. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a log line matching `predicate`. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export interface SpawnServiceOptions {
  /** Entry point relative to the repository root, e.g. "discovery/src/server.ts". */
  entry: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Spawns `entry` with `node --import tsx` on a free port (PORT=0 unless given) and resolves
 * when it logs `"<name> listening"` with its port. Killed after the test when `t` is given.
 */
export async function spawnService(options: SpawnServiceOptions, t?: TestContext): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SERVICE_SECRET: TEST_SERVICE_SECRET,
      ACL_MANAGEMENT_TOKEN: TEST_DISCOVERY_TOKEN,
      DISCOVERY_TOKEN: TEST_DISCOVERY_TOKEN,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  /** The process's last ten log lines, for an error that names what it was doing. */
  const lastLines = () => logs.slice(-10).map((line) => JSON.stringify(line)).join('\n');
  const listeners = new Set<(line: Record<string, unknown>) => void>();
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text, raw: true };
      }
      logs.push(line);
      for (const listener of listeners) listener(line);
    });
  }

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS) =>
    new Promise<Record<string, unknown>>((resolveLine, reject) => {
      const seen = logs.find(predicate);
      if (seen) return resolveLine(seen);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${options.entry}: no matching log line within ${timeoutMs} ms; last lines:\n${lastLines()}`));
      }, timeoutMs);
      const listener = (line: Record<string, unknown>) => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolveLine(line);
      };
      listeners.add(listener);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(new Error(`${options.entry} exited (${signal ?? code}) before the expected log line; last lines:\n${lastLines()}`));
      });
    });

  // A process that does not exit after the signal is killed and named, so a test fails with its last
  // lines instead of waiting forever (a graceful shutdown that hangs is a defect to see, not to wait on).
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const outcome = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, 'late' as const, { ref: false })]);
    if (outcome !== 'late') return outcome;
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${options.entry} did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}; killed; last lines:\n${lastLines()}`);
  };
  t?.after(() => stop('SIGKILL'));

  const ready = await waitForLog((line) => typeof line.msg === 'string' && line.msg.endsWith(' listening') && typeof line.port === 'number');
  const port = ready.port as number;
  const service = (ready.msg as string).slice(0, -' listening'.length);
  const headers = (user?: string, caller = 'gateway') => serviceHeaders(caller, service, user);
  return { process: child, port, url: `http://127.0.0.1:${port}`, service, headers, logs, exited, stop, waitForLog };
}
