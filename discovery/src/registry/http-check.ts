// Runs one HTTP check: requests the URL every Interval and maps the answer to a status as Consul does.
// Through undici's request, not fetch: fetch refuses ports such as 6000, where a service may well listen.
import { STATUS_CODES } from 'node:http';
import { request, type Dispatcher } from 'undici';
import type { CheckStatus } from './consul-types.ts';
import type { ServiceDefinition } from './service-definition.ts';

export interface HttpCheckTarget {
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: string;
  intervalMs: number;
  timeoutMs: number;
}

/** 1 s, Consul's checks.MinInterval: no check runs more often, lest it hammer its target. */
export const MIN_CHECK_INTERVAL_MS = 1_000;

export type HttpCheckListener = (status: CheckStatus, output: string) => void;

/** 2xx is passing, 429 Too Many Requests is warning, anything else critical (Consul's rule). */
export function statusForHttpCode(code: number): CheckStatus {
  if (code >= 200 && code <= 299) return 'passing';
  if (code === 429) return 'warning';
  return 'critical';
}

/**
 * 120 characters: how much of an answer's first line a check keeps. A check is for health, not for
 * reading what the target serves (Consul keeps 4 KiB, which let a check read a page through the registry).
 */
export const CHECK_OUTPUT_LINE_MAX = 120;

/** Reads just enough of a response body for its short first line, then stops the download. */
async function readFirstLine(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= CHECK_OUTPUT_LINE_MAX * 4) break;
    }
  } finally {
    // Leaving the loop early (or failing) stops the download.
    body.destroy();
  }
  const line = Buffer.concat(chunks).toString().split(/\r?\n/, 1)[0] ?? '';
  // Whole code points only: cutting a surrogate pair in two would leave a lone surrogate.
  const points = [...line];
  return points.length > CHECK_OUTPUT_LINE_MAX ? `${points.slice(0, CHECK_OUTPUT_LINE_MAX).join('')}…` : line;
}

/** A host as compared: no IPv6 brackets, no IPv4-mapped prefix, lower case. */
const canonicalHost = (host: string) => host.replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();

/**
 * Why one of `def`'s HTTP checks may not run, or undefined: a check may only ask the instance it
 * belongs to (its address, or the node's when it has none, and its port), so a registration cannot
 * make the registry call anything else on anyone's behalf. With `registeredFrom` (every token but
 * the management token), that address must also be the one the registration came from, and the
 * check a plain GET or HEAD: an Address is the registrant's to choose, its own IP is not.
 */
export function foreignCheckTarget(def: ServiceDefinition, nodeAddress: string, registeredFrom?: string): string | undefined {
  const address = canonicalHost(def.address || nodeAddress);
  for (const check of def.checks) {
    if (check.type !== 'http') continue;
    const url = new URL(check.http);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const invalid = `Invalid check ${JSON.stringify(check.checkId)}: `;
    if (canonicalHost(url.hostname) !== address || port !== def.port) {
      return `${invalid}an HTTP check must target the instance's own address and port (${address}:${def.port}), not ${url.host}`;
    }
    if (registeredFrom === undefined) continue;
    if (canonicalHost(registeredFrom) !== address) {
      return `${invalid}an HTTP check must target the address the registration comes from (${canonicalHost(registeredFrom)}), not ${address}`;
    }
    if ((check.method !== 'GET' && check.method !== 'HEAD') || check.body !== '' || Object.keys(check.header).length > 0) {
      return `${invalid}an HTTP check may only GET or HEAD its URL, without headers or a body`;
    }
  }
  return undefined;
}

/**
 * Why a token that is not the management token may not use `def`'s ids, or undefined: an instance
 * id starts with its service's name and `-` (as every instance here and the kit's defaults do), and
 * its checks are `service:<id>` or `service:<id>:<n>`, so no token can take, ahead of time, an id
 * another service will register (after a registry restart, say).
 */
export function foreignIds(def: ServiceDefinition): string | undefined {
  if (def.id !== def.name && !def.id.startsWith(`${def.name}-`)) {
    return `Invalid service ID ${JSON.stringify(def.id)}: it must be the service name or start with "${def.name}-"`;
  }
  const own = `service:${def.id}`;
  for (const check of def.checks) {
    const numbered = check.checkId.startsWith(`${own}:`) && /^\d+$/.test(check.checkId.slice(own.length + 1));
    if (check.checkId !== own && !numbered) {
      return `Invalid check ID ${JSON.stringify(check.checkId)}: it must be "${own}" or "${own}:<n>"`;
    }
  }
  return undefined;
}

/** Go's error text starts with the capitalised method and the quoted URL: `Get "http://…": …`. */
function describeFailure(target: HttpCheckTarget, error: unknown, timedOut: boolean): string {
  const verb = target.method.charAt(0) + target.method.slice(1).toLowerCase();
  const prefix = `${verb} ${JSON.stringify(target.url)}`;
  if (timedOut) return `${prefix}: request timed out after ${target.timeoutMs} ms`;
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  return `${prefix}: ${cause ?? (error as Error).message}`;
}

/**
 * Polls one URL. The first probe runs at once rather than after Consul's random stagger,
 * so a freshly registered instance turns passing within one request instead of one interval.
 */
export class HttpCheck {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly target: HttpCheckTarget,
    private readonly onResult: HttpCheckListener,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Stops polling and abandons a probe in flight; no result is reported after this. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inFlight?.abort();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probe(), delayMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    const { target } = this;
    const controller = new AbortController();
    this.inFlight = controller;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, target.timeoutMs);
    deadline.unref();
    let status: CheckStatus;
    let output: string;
    try {
      const headers: Record<string, string[]> = { 'user-agent': ['Consul Health Check'], accept: ['text/plain, text/*, */*'] };
      for (const [name, values] of Object.entries(target.header)) headers[name.toLowerCase()] = values;
      const hasBody = target.body !== '' && target.method !== 'GET' && target.method !== 'HEAD';
      const answer = await request(target.url, {
        method: target.method as Dispatcher.HttpMethod,
        headers,
        ...(hasBody ? { body: target.body } : {}),
        // A redirect is not followed: its 3xx is the answer, and critical.
        signal: controller.signal,
      });
      const text = await readFirstLine(answer.body);
      status = statusForHttpCode(answer.statusCode);
      output = `HTTP ${target.method} ${target.url}: ${answer.statusCode} ${STATUS_CODES[answer.statusCode] ?? ''} Output: ${text}`;
    } catch (error) {
      status = 'critical';
      output = describeFailure(target, error, timedOut);
    } finally {
      clearTimeout(deadline);
      this.inFlight = undefined;
    }
    if (this.stopped) return;
    this.onResult(status, output);
    this.schedule(target.intervalMs);
  }
}
