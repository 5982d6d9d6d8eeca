// A logger for in-process gateway tests that keeps what it is told, so a test can assert that
// something was (or was not) logged at a level; nothing is printed.
import type { FastifyBaseLogger } from 'fastify';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface LogEntry {
  level: Level;
  /** The bindings object (`{ err, txId, … }`) when the call had one. */
  fields: Record<string, unknown>;
  message: string;
}

export interface RecordingLogger extends FastifyBaseLogger {
  readonly entries: LogEntry[];
  /** The messages logged at `level`. */
  at(level: Level): LogEntry[];
}

export function recordingLogger(entries: LogEntry[] = [], bindings: Record<string, unknown> = {}): RecordingLogger {
  const write =
    (level: Level) =>
    (...args: unknown[]): void => {
      const [first, second] = args;
      if (typeof first === 'string') entries.push({ level, fields: { ...bindings }, message: first });
      else entries.push({ level, fields: { ...bindings, ...(first as Record<string, unknown>) }, message: typeof second === 'string' ? second : '' });
    };
  return {
    entries,
    level: 'trace',
    fatal: write('fatal'),
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    trace: write('trace'),
    silent: () => undefined,
    child: (more) => recordingLogger(entries, { ...bindings, ...more }),
    at: (level) => entries.filter((entry) => entry.level === level),
  };
}
