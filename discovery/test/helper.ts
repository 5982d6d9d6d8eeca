// Test helpers: run discovery as a real child process on a free port, and small waiting utilities.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnService } from '@notify/lib/testing';

export interface RunningDiscovery {
  port: number;
  baseUrl: string;
  /** Everything the process logged so far, for failure messages. */
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/server.ts` as its own process on a free port; the caller stops it. */
export async function startDiscovery(env: Record<string, string> = {}): Promise<RunningDiscovery> {
  const discovery = await spawnService({ entry: 'discovery/src/server.ts', env });
  return {
    port: discovery.port,
    baseUrl: discovery.url,
    output: () => discovery.logs.map((line) => JSON.stringify(line)).join('\n'),
    stop: async (signal) => (await discovery.stop(signal)).code,
  };
}

/** Polls until `predicate` resolves truthy; fails after `timeoutMs`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The consul client returns `[response, body]` only when its `ctx` is an EventEmitter with
 * `includeResponse` set (that is how its own Watch reads X-Consul-Index).
 */
export function includeResponse(): EventEmitter & { includeResponse: true } {
  return Object.assign(new EventEmitter(), { includeResponse: true as const });
}
