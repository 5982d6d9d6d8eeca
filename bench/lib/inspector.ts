// The gateway's inspector (it is started with --inspect=127.0.0.1:0): forced garbage collection
// before memory readings, heap usage, and CPU profiles summarised by function and by area
// (gateway or lib file, npm package, node internals, GC).
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import WebSocket from 'ws';
import { fmt, table } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  seconds: number;
  /** Share (%) of wall time by area, most first. */
  areas: { name: string; percent: number }[];
  /** Share (%) of wall time by function (self time), most first. */
  functions: { name: string; percent: number }[];
}

export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
    await once(socket, 'open');
    return new Inspector(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Full GC twice (the second one frees what the first one's finalizers released). */
  async collectGarbage(): Promise<void> {
    await this.send('HeapProfiler.collectGarbage');
    await new Promise((done) => setTimeout(done, 200));
    await this.send('HeapProfiler.collectGarbage');
  }

  async heapUsed(): Promise<number> {
    const usage = await this.send<{ usedSize: number }>('Runtime.getHeapUsage');
    return usage.usedSize;
  }

  async startProfile(intervalMicros = 500): Promise<void> {
    await this.send('Profiler.enable');
    await this.send('Profiler.setSamplingInterval', { interval: intervalMicros });
    await this.send('Profiler.start');
  }

  async stopProfile(top = 12): Promise<ProfileSummary> {
    const { profile } = await this.send<{ profile: Profile }>('Profiler.stop');
    await this.send('Profiler.disable');
    return summarise(profile, top);
  }

  close(): void {
    this.socket.close();
  }
}

/** A profile as report lines (areas, then functions); none when the process only idled. */
export function profileTables(service: string, label: string, profile: ProfileSummary): string[] {
  if (profile.areas.every((a) => a.name === '(idle)' || a.name === '(program)')) return [];
  return [
    '',
    `CPU profile of ${service}: ${label} (${profile.seconds.toFixed(1)} s; self time, % of wall)`,
    table(['area', '%'], profile.areas.map((a) => [a.name, fmt(a.percent, 1)])),
    table(['function', '%'], profile.functions.map((a) => [a.name, fmt(a.percent, 1)])),
  ];
}

function summarise(profile: Profile, top: number): ProfileSummary {
  const hits = new Map<number, number>();
  if (profile.samples) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  else for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
  let total = 0;
  for (const count of hits.values()) total += count;
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0;
    if (count === 0) continue;
    const area = areaOf(node.callFrame);
    byArea.set(area, (byArea.get(area) ?? 0) + count);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  }
  const rank = (map: Map<string, number>, limit: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, count]) => ({ name, percent: (100 * count) / Math.max(1, total) }));
  // Tracing's own code is listed even below the top (its share is the question when tracing is off).
  const withTracing = (map: Map<string, number>) => {
    const ranked = rank(map, top);
    const tracing = rank(map, map.size).filter((entry) => TRACING_AREA.test(entry.name) && !ranked.some((r) => r.name === entry.name));
    return [...ranked, ...tracing.slice(0, top)];
  };
  const areas = withTracing(byArea);
  const functions = withTracing(byFunction);
  return { seconds: (profile.endTime - profile.startTime) / 1e6, areas, functions };
}

/** Areas that are tracing: the kit's tracing module and the OpenTelemetry packages. */
const TRACING_AREA = /tracing|opentelemetry/;

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + '/node_modules/'.length);
  return path.startsWith('/') ? relative(ROOT, path) : path;
}

/** Where a frame's code lives: a package, a source folder of ours, node's internals, or V8 itself. */
function areaOf(frame: { functionName: string; url: string }): string {
  const { functionName, url } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  if (url.startsWith('node:')) {
    if (url.includes('undici')) return 'node: undici (fetch)';
    return `node: ${url.slice(5).replace(/^internal\//, '').split('/')[0]}`;
  }
  const path = shortUrl(url);
  if (url.includes('/node_modules/')) {
    const parts = path.split('/');
    return `npm: ${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return path;
}
