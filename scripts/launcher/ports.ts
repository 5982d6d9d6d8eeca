// The launcher's check before it starts anything: every port this run will listen on is free, or the
// start stops at once naming the port, what it is for and which process holds it.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { planSystem } from '../../lib/src/testing/start-system.ts';
import { TOPOLOGY } from '../../lib/src/testing/topology.ts';
import type { LauncherConfig } from './config.ts';

export interface PlannedPort {
  port: number;
  /** What would listen there, e.g. "persist-1" or "PostgreSQL (embedded)". */
  owner: string;
}

/** Every port a run with `config` listens on, with what would listen there. */
export function plannedPorts(config: Pick<LauncherConfig, 'PORT_OFFSET' | 'DATABASE_URL' | 'EMBEDDED_POSTGRES_PORT' | 'PROMETHEUS_PORT'>, runsPrometheus: boolean): PlannedPort[] {
  const offset = config.PORT_OFFSET;
  const instances = planSystem(TOPOLOGY, { portOffset: offset });
  const planned: PlannedPort[] = instances.map((instance) => ({ port: instance.port, owner: instance.id }));
  // Further ports (the SMTP sink's SMTP port) after every HTTP one, e.g. "smtp-sink-1 (SMTP)".
  for (const instance of instances) {
    for (const [name, port] of Object.entries(instance.extraPorts)) planned.push({ port, owner: `${instance.id} (${name.toUpperCase()})` });
  }
  if (!config.DATABASE_URL) planned.push({ port: config.EMBEDDED_POSTGRES_PORT + offset, owner: 'PostgreSQL (embedded; EMBEDDED_POSTGRES_PORT)' });
  if (runsPrometheus) planned.push({ port: config.PROMETHEUS_PORT + offset, owner: 'Prometheus (PROMETHEUS_PORT; RUN_PROMETHEUS=false leaves it out)' });
  return planned;
}

/** True when `port` can be bound on `host` right now. */
export async function portIsFree(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once('error', () => done(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** The planned ports that are taken, each with a line naming it and its holder. */
export async function takenPorts(host: string, planned: readonly PlannedPort[]): Promise<string[]> {
  const taken: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, owner } of planned) {
    const twice = seen.get(port);
    if (twice) {
      taken.push(`port ${port} is planned for both ${twice} and ${owner} (check PORT_OFFSET and the *_PORT settings)`);
      continue;
    }
    seen.set(port, owner);
    if (!(await portIsFree(host, port))) taken.push(`port ${port} (${owner}) is taken by ${holderOf(port) ?? 'another process'}`);
  }
  return taken;
}

/**
 * Which process listens on a TCP port, read from /proc (Linux): the socket's inode in
 * /proc/net/tcp{,6}, then the process holding a descriptor to it. Undefined when unknown.
 */
export function holderOf(port: number): string | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is the tenth field.
      if (fields.length < 10 || fields[3] !== '0A') continue;
      if (Number.parseInt(fields[1]!.split(':')[1]!, 16) === port) inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of safeList('/proc').filter((name) => /^\d+$/.test(name))) {
    for (const fd of safeList(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return `pid ${pid} (${commandOf(pid)})`;
    }
  }
  return undefined;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function commandOf(pid: string): string {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return command.length > 120 ? `${command.slice(0, 117)}...` : command || 'unknown command';
  } catch {
    return 'unknown command';
  }
}
