// Reads a Consul service registration body (PUT /v1/agent/service/register) into a resolved,
// validated ServiceDefinition, answering bad input with Consul's own error wording.
import { z } from 'zod';
import { CHECK_STATUSES, type CheckStatus } from './consul-types.ts';
import { formatDuration, parseDuration, type DurationError } from './duration.ts';

/** A check as the registry runs it: ids and names resolved, durations in milliseconds. */
export type CheckDefinition = {
  checkId: string;
  name: string;
  notes: string;
  /** Status to start in; Consul starts a check critical unless told otherwise. */
  status: CheckStatus;
  deregisterCriticalAfterMs: number | undefined;
} & (
  | { type: 'ttl'; ttlMs: number }
  | {
      type: 'http';
      http: string;
      method: string;
      header: Record<string, string[]>;
      body: string;
      intervalMs: number;
      timeoutMs: number;
    }
);

/** A service registration, resolved the way a Consul agent resolves it. */
export interface ServiceDefinition {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  enableTagOverride: boolean;
  weights: { passing: number; warning: number };
  checks: CheckDefinition[];
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** 10 s, Consul's default timeout for HTTP checks. */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

/** 4 KiB, Consul's cap on a check's stored output. */
export const CHECK_OUTPUT_MAX_BYTES = 4 * 1024;

/**
 * 2^31-1 ms (about 24.8 days), the longest delay a Node timer keeps: a longer one fires after 1 ms.
 * Consul takes any Go duration; check durations beyond this are refused rather than mistimed.
 */
export const MAX_CHECK_DURATION_MS = 2 ** 31 - 1;

const decodeFailed = (detail: string) => `Request decode failed: ${detail}`;

/**
 * Consul decodes JSON with Go's case-insensitive field matching and also takes snake_case keys,
 * so `name`, `Name` and `NAME` are one field and `deregister_critical_service_after` is
 * DeregisterCriticalServiceAfter. Keys are folded to one form; opaque maps (Meta, Header) are kept.
 */
const foldKey = (key: string): string => key.replace(/_/g, '').toLowerCase();

const CANONICAL: Readonly<Record<string, string>> = {
  id: 'ID',
  name: 'Name',
  tags: 'Tags',
  address: 'Address',
  port: 'Port',
  meta: 'Meta',
  enabletagoverride: 'EnableTagOverride',
  weights: 'Weights',
  passing: 'Passing',
  warning: 'Warning',
  check: 'Check',
  checks: 'Checks',
  checkid: 'CheckID',
  notes: 'Notes',
  status: 'Status',
  output: 'Output',
  ttl: 'TTL',
  http: 'HTTP',
  method: 'Method',
  header: 'Header',
  body: 'Body',
  interval: 'Interval',
  timeout: 'Timeout',
  deregistercriticalserviceafter: 'DeregisterCriticalServiceAfter',
};

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Folds keys one level deep (so opaque maps such as Meta keep theirs) and drops nulls, which Go decodes as zero values. */
function foldObject(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null) continue;
    out[foldKey(key)] = item;
  }
  return out;
}

function foldRegistration(value: Record<string, unknown>): Record<string, unknown> {
  const out = foldObject(value);
  if (isPlainObject(out.check)) out.check = foldObject(out.check);
  if (Array.isArray(out.checks)) out.checks = out.checks.map((c) => (isPlainObject(c) ? foldObject(c) : c));
  if (isPlainObject(out.weights)) out.weights = foldObject(out.weights);
  return out;
}

/** A Go time.Duration field: a duration string, or an integer count of nanoseconds. */
const duration = z.unknown().transform((value, ctx): number => {
  if (typeof value === 'string') {
    try {
      return parseDuration(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', input: value, message: (error as DurationError).message });
      return z.NEVER;
    }
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value / 1e6;
  ctx.issues.push({ code: 'custom', input: value, message: `expected a duration such as "10s", got ${jsonKind(value)}` });
  return z.NEVER;
});

/** Check kinds a Consul agent knows but this registry does not run. */
const UNSUPPORTED_CHECK_KEYS = [
  'tcp',
  'tcpusetls',
  'udp',
  'grpc',
  'h2ping',
  'args',
  'scriptargs',
  'script',
  'dockercontainerid',
  'aliasnode',
  'aliasservice',
  'osservice',
];

const checkSchema = z
  .object({
    checkid: z.string().optional(),
    name: z.string().optional(),
    notes: z.string().optional(),
    status: z.string().optional(),
    ttl: duration.optional(),
    http: z.string().optional(),
    method: z.string().optional(),
    header: z.record(z.string(), z.array(z.string())).optional(),
    body: z.string().optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    deregistercriticalserviceafter: duration.optional(),
  })
  .loose();

const registrationSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().optional(),
    tags: z.array(z.string()).optional(),
    address: z.string().optional(),
    port: z.number().int().min(0).max(65535).optional(),
    meta: z.record(z.string(), z.string()).optional(),
    enabletagoverride: z.boolean().optional(),
    weights: z.object({ passing: z.number().int().optional(), warning: z.number().int().optional() }).loose().optional(),
    check: checkSchema.optional(),
    checks: z.array(checkSchema).optional(),
  })
  .loose();

type RawCheck = z.infer<typeof checkSchema>;

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${CANONICAL[String(part)] ?? String(part)}`))
    .join('');
  return decodeFailed(path ? `${path}: ${issue.message}` : issue.message);
}

/** Consul's structs.ValidateMetadata, for service Meta. */
function validateMeta(meta: Record<string, string>): string | undefined {
  const entries = Object.entries(meta);
  if (entries.length > 64) return 'Node metadata cannot contain more than 64 key/value pairs';
  for (const [key, value] of entries) {
    let problem: string | undefined;
    if (key === '') problem = 'Key cannot be blank';
    else if (!/^[a-zA-Z0-9_-]+$/.test(key)) problem = 'Key contains invalid characters';
    else if (key.length > 128) problem = 'Key is too long (limit: 128 characters)';
    else if (key.startsWith('consul-')) problem = "Key prefix 'consul-' is reserved for internal use";
    else if (value.length > 512) problem = 'Value is too long (limit: 512 characters)';
    if (problem) return `Couldn't load metadata pair ('${key}', '${value}'): ${problem}`;
  }
  return undefined;
}

/** Consul's "any address" check: a service must not advertise 0.0.0.0 or ::. */
const isAnyAddress = (address: string): boolean => ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0'].includes(address);

/** True when a check object carries no field at all; Consul skips such empty checks. */
const isEmptyCheck = (check: RawCheck): boolean => Object.values(check).every((v) => v === undefined);

/** A check before its id and name defaults are filled in (Omit applied to each union member). */
type CheckShape = (CheckDefinition extends infer C ? (C extends unknown ? Omit<C, 'checkId' | 'name'> : never) : never) & {
  checkId?: string;
  name?: string;
};

/** Consul's CheckType.Validate, restricted to the TTL and HTTP checks this registry runs. */
function resolveCheck(raw: RawCheck): ParseResult<CheckShape> {
  if (UNSUPPORTED_CHECK_KEYS.some((key) => raw[key] !== undefined && raw[key] !== '' && raw[key] !== false)) {
    return { ok: false, message: 'Invalid check: only TTL and HTTP checks are supported by this registry' };
  }
  const timed = { TTL: raw.ttl, Interval: raw.interval, Timeout: raw.timeout, DeregisterCriticalServiceAfter: raw.deregistercriticalserviceafter };
  for (const [field, ms] of Object.entries(timed)) {
    if (ms !== undefined && ms > MAX_CHECK_DURATION_MS) {
      return { ok: false, message: `Invalid check: ${field} must be <= ${formatDuration(MAX_CHECK_DURATION_MS)}` };
    }
  }
  const ttlMs = raw.ttl ?? 0;
  const intervalMs = raw.interval ?? 0;
  const isHttp = raw.http !== undefined && raw.http !== '';
  if (intervalMs > 0 && ttlMs > 0) return { ok: false, message: 'Invalid check: Interval and TTL cannot both be specified' };
  if (isHttp && intervalMs <= 0) {
    return { ok: false, message: 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks' };
  }
  if (!isHttp && ttlMs <= 0) return { ok: false, message: 'Invalid check: TTL must be > 0 for TTL checks' };

  let status: CheckStatus = 'critical';
  if (raw.status !== undefined && raw.status !== '') {
    if (!CHECK_STATUSES.includes(raw.status as CheckStatus)) {
      return { ok: false, message: "Status for checks must 'passing', 'warning', 'critical'" };
    }
    status = raw.status as CheckStatus;
  }
  const common = {
    ...(raw.checkid ? { checkId: raw.checkid } : {}),
    ...(raw.name ? { name: raw.name } : {}),
    notes: raw.notes ?? '',
    status,
    // Consul treats a zero or negative value as "never reap".
    deregisterCriticalAfterMs:
      raw.deregistercriticalserviceafter !== undefined && raw.deregistercriticalserviceafter > 0
        ? raw.deregistercriticalserviceafter
        : undefined,
  };
  if (!isHttp) return { ok: true, value: { ...common, type: 'ttl', ttlMs } };

  let url: URL;
  try {
    url = new URL(raw.http!);
  } catch {
    return { ok: false, message: `Invalid check: HTTP must be an absolute http(s) URL, got ${JSON.stringify(raw.http)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `Invalid check: HTTP must be an absolute http(s) URL, got ${JSON.stringify(raw.http)}` };
  }
  return {
    ok: true,
    value: {
      ...common,
      type: 'http',
      http: raw.http!,
      method: raw.method ? raw.method.toUpperCase() : 'GET',
      header: raw.header ?? {},
      body: raw.body ?? '',
      intervalMs,
      timeoutMs: raw.timeout !== undefined && raw.timeout > 0 ? raw.timeout : DEFAULT_HTTP_TIMEOUT_MS,
    },
  };
}

/**
 * Validates an already-decoded JSON value as a service registration.
 * Checks run in Consul's order, and messages are Consul's, so a client sees the same 400 either way.
 */
export function parseServiceDefinition(value: unknown): ParseResult<ServiceDefinition> {
  if (!isPlainObject(value)) {
    return { ok: false, message: decodeFailed(`json: cannot unmarshal ${jsonKind(value)} into Go value of type structs.ServiceDefinition`) };
  }
  const parsed = registrationSchema.safeParse(foldRegistration(value));
  if (!parsed.success) return { ok: false, message: describeIssue(parsed.error.issues[0]!) };
  const raw = parsed.data;

  if (!raw.name) return { ok: false, message: 'Missing service name' };
  const address = raw.address ?? '';
  if (isAnyAddress(address)) return { ok: false, message: 'Invalid service address' };

  const weights = { passing: raw.weights?.passing ?? 1, warning: raw.weights?.warning ?? 1 };
  if (raw.weights && weights.passing < 1) return { ok: false, message: 'Invalid Weights: Passing must be greater than 0' };
  if (weights.warning < 0) return { ok: false, message: 'Invalid Weights: Warning must be greater or equal than 0' };

  const meta = raw.meta ?? {};
  const metaProblem = validateMeta(meta);
  if (metaProblem) return { ok: false, message: `Invalid Service Meta: ${metaProblem}` };

  const rawChecks = [...(raw.check ? [raw.check] : []), ...(raw.checks ?? [])].filter((c) => !isEmptyCheck(c));
  const shapes: CheckShape[] = [];
  for (const rawCheck of rawChecks) {
    const resolved = resolveCheck(rawCheck);
    if (!resolved.ok) return resolved;
    shapes.push(resolved.value);
  }

  const id = raw.id || raw.name;
  const name = raw.name;
  // Consul's ids for checks defined with a service: service:<id>, or service:<id>:<n> (1-based) for several.
  const checks = shapes.map(
    (shape, i): CheckDefinition => ({
      ...shape,
      checkId: shape.checkId ?? (shapes.length > 1 ? `service:${id}:${i + 1}` : `service:${id}`),
      name: shape.name ?? `Service '${name}' check`,
    }),
  );
  const seen = new Set<string>();
  for (const check of checks) {
    if (seen.has(check.checkId)) return { ok: false, message: `Invalid check: duplicate CheckID ${JSON.stringify(check.checkId)}` };
    seen.add(check.checkId);
  }

  return {
    ok: true,
    value: {
      id,
      name,
      address,
      port: raw.port ?? 0,
      tags: raw.tags ?? [],
      meta,
      enableTagOverride: raw.enabletagoverride ?? false,
      weights,
      checks,
    },
  };
}

/**
 * Decodes a raw request body as JSON. An empty body is Go's io.EOF unless `whenEmpty` stands in for it.
 */
function decodeJsonBody(body: string, whenEmpty?: unknown): ParseResult<unknown> {
  if (body.trim() === '') return whenEmpty === undefined ? { ok: false, message: decodeFailed('EOF') } : { ok: true, value: whenEmpty };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    return { ok: false, message: decodeFailed((error as Error).message) };
  }
}

/** Decodes and validates a raw request body; an empty body is Go's io.EOF. */
export function parseServiceDefinitionJson(body: string): ParseResult<ServiceDefinition> {
  const decoded = decodeJsonBody(body);
  return decoded.ok ? parseServiceDefinition(decoded.value) : decoded;
}

/** The body of PUT /v1/agent/check/update/:id: `{Status, Output}`; an empty body reads as `{}`. */
export function parseCheckUpdateJson(body: string): ParseResult<{ status: CheckStatus; output: string }> {
  const decoded = decodeJsonBody(body, {});
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  if (!isPlainObject(value)) {
    return { ok: false, message: decodeFailed(`json: cannot unmarshal ${jsonKind(value)} into Go value of type agent.checkUpdate`) };
  }
  const parsed = z
    .object({ status: z.string().optional(), output: z.string().optional() })
    .loose()
    .safeParse(foldObject(value));
  if (!parsed.success) return { ok: false, message: describeIssue(parsed.error.issues[0]!) };
  const status = parsed.data.status ?? '';
  if (!CHECK_STATUSES.includes(status as CheckStatus)) return { ok: false, message: `Invalid check status: '${status}'` };
  return { ok: true, value: { status: status as CheckStatus, output: parsed.data.output ?? '' } };
}

/** Consul truncates a check's output to 4 KiB and says how much it kept. */
export function truncateOutput(output: string): string {
  const bytes = Buffer.byteLength(output);
  if (bytes <= CHECK_OUTPUT_MAX_BYTES) return output;
  const kept = Buffer.from(output).subarray(0, CHECK_OUTPUT_MAX_BYTES).toString();
  return `${kept} ... (captured ${CHECK_OUTPUT_MAX_BYTES} of ${bytes} bytes)`;
}

/** Interval/Timeout as Consul displays them on a check ("10s"), or "" when the check has none. */
export function displayDurations(check: CheckDefinition): { Interval: string; Timeout: string } {
  if (check.type === 'http') return { Interval: formatDuration(check.intervalMs), Timeout: formatDuration(check.timeoutMs) };
  return { Interval: '', Timeout: '' };
}
