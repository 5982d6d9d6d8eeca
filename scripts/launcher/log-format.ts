// Turns a child's pino JSON lines into one readable, name-prefixed line each.
import { styleText } from 'node:util';

const LEVELS: Record<number, [string, Parameters<typeof styleText>[0]]> = {
  10: ['TRACE', 'gray'],
  20: ['DEBUG', 'gray'],
  30: ['INFO ', 'green'],
  40: ['WARN ', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'red'],
};

// Keys every line carries or that the prefix already says.
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'service', 'v']);

const PREFIX_COLOURS: Parameters<typeof styleText>[0][] = ['cyan', 'magenta', 'blue', 'yellow', 'green', 'cyan'];

export function prefixColour(index: number): Parameters<typeof styleText>[0] {
  return PREFIX_COLOURS[index % PREFIX_COLOURS.length]!;
}

function renderValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value && 'type' in value) {
    const error = value as { type: string; message: string; stack?: string };
    return `${error.type}: ${error.message}`;
  }
  return JSON.stringify(value);
}

/** One output line for one input line; non-JSON lines pass through unchanged. */
export function formatLine(line: string, colour = process.stdout.isTTY ?? false): string {
  const paint = (style: Parameters<typeof styleText>[0], text: string) => (colour ? styleText(style, text) : text);
  if (!line.startsWith('{')) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const [level, style] = LEVELS[Number(record.level)] ?? ['INFO ', 'green'];
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const extras = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${paint('gray', `${key}=`)}${renderValue(value)}`)
    .join(' ');
  const message = String(record.msg ?? '');
  return `${paint('gray', time)} ${paint(style, level)} ${message}${extras ? ` ${extras}` : ''}`;
}
