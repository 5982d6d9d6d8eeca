// Mailer tests: mailer nodes as real processes on one fresh queue database, discovery, and a real
// SMTP server on loopback (the sink) whose received mail the tests parse.
import type { TestContext } from 'node:test';
import { FAST_MAIL_QUEUE, spawnService, testDatabase, type ServiceProcess } from '@notify/lib/testing';
import { SmtpSink } from '../src/smtp-sink/sink.ts';

export interface MailerCluster {
  discovery: ServiceProcess;
  sink: SmtpSink;
  nodes: ServiceProcess[];
  databaseUrl: string;
  /** Starts one more node on the same queue. */
  startNode(env?: Record<string, string>): Promise<ServiceProcess>;
}

export async function startMailers(t: TestContext, options: { nodes?: number; env?: Record<string, string>; discovery?: ServiceProcess } = {}): Promise<MailerCluster> {
  const db = await testDatabase(`${t.name}-mail`);
  const sink = new SmtpSink();
  await sink.start();
  t.after(() => sink.stop());
  const discovery = options.discovery ?? (await spawnService({ entry: 'discovery/src/server.ts' }, t));
  const nodes: ServiceProcess[] = [];
  const startNode = async (env: Record<string, string> = {}) => {
    const node = await spawnService(
      {
        entry: 'mailer/src/server.ts',
        env: {
          DATABASE_URL: db.url,
          DISCOVERY_URL: discovery.url,
          DRAIN_DELAY_MS: '0',
          SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
          INSTANCE_ID: `mailer-${nodes.length + 1}`,
          ...FAST_MAIL_QUEUE,
          ...options.env,
          ...env,
        },
      },
      t,
    );
    nodes.push(node);
    return node;
  };
  // The first node installs the queue's schema; the others then start side by side.
  await startNode();
  await Promise.all(Array.from({ length: (options.nodes ?? 1) - 1 }, () => startNode()));
  return { discovery, sink, nodes, databaseUrl: db.url, startNode };
}

/** The service that calls `path` in the system: auth enqueues welcomes, the gateway notifications; jobs are the operator's. */
export const callerOf = (path: string): string | undefined =>
  path === '/api/emails/welcome' ? 'auth' : path === '/api/emails/notification' ? 'gateway' : undefined;

/** A JSON request, signed as the route's caller in the system would sign it (`as` another, `null` none). */
export async function send<T = Record<string, unknown>>(
  node: ServiceProcess,
  method: string,
  path: string,
  body?: unknown,
  as: string | null | undefined = callerOf(path),
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...(as ? node.headers(undefined, as) : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export { metricSample as metric } from '@notify/lib/testing';

/** Welcome-email requests for `count` made-up users. */
export function welcomes(count: number, prefix = 'user'): { userId: string; email: string; name: string }[] {
  return Array.from({ length: count }, (_, i) => ({ userId: `${prefix}-${i + 1}`, email: `${prefix}-${i + 1}@example.test`, name: `${prefix} ${i + 1}` }));
}
