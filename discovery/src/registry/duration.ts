// Go-style durations ("10s", "1m30s", "250ms"), the only duration syntax Consul's HTTP API speaks.

/** Nanoseconds per unit, as Go's time.ParseDuration knows them (both micro signs included). */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek small letter mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Raised for text that is not a Go duration; the message is Go's own wording. */
export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parses a Go duration string into milliseconds (fractions kept, so "1500us" is 1.5).
 * Accepts what Go's time.ParseDuration accepts: an optional sign, then one or more
 * decimal numbers each followed by a unit, or the bare "0".
 * @throws DurationError with Go's message, e.g. `time: invalid duration "abc"`.
 */
export function parseDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`time: invalid duration ${quoted}`);

  let totalNs = 0;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw new DurationError(`time: invalid duration ${quoted}`);
    let i = 0;
    while (isDigit(s[i])) i++;
    const whole = s.slice(0, i);
    let fraction = '';
    if (s[i] === '.') {
      i++;
      const start = i;
      while (isDigit(s[i])) i++;
      fraction = s.slice(start, i);
    }
    if (whole === '' && fraction === '') throw new DurationError(`time: invalid duration ${quoted}`);
    s = s.slice(i);

    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) throw new DurationError(`time: missing unit in duration ${quoted}`);
    const unit = s.slice(0, u);
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw new DurationError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(u);

    totalNs += Number(`${whole || '0'}.${fraction || '0'}`) * scale;
    // Go rejects anything beyond int64 nanoseconds (about 292 years).
    if (totalNs > 9.2e18) throw new DurationError(`time: invalid duration ${quoted}`);
  }
  const ms = totalNs / 1e6;
  return negative ? -ms : ms;
}

/** Formats `valueNs` in units of `unitNs` (a power of ten), with Go's trailing zeros trimmed. */
function withFraction(valueNs: number, unitNs: number): string {
  const whole = Math.floor(valueNs / unitNs);
  const rest = valueNs - whole * unitNs;
  if (rest === 0) return String(whole);
  const digits = String(unitNs).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}

/**
 * Formats milliseconds the way Go's Duration.String does ("10s", "1m0s", "1h2m3.5s", "300ms"),
 * which is how Consul reports a check's Interval and Timeout.
 */
export function formatDuration(ms: number): string {
  const totalNs = Math.round(ms * 1e6);
  if (totalNs === 0) return '0s';
  const sign = totalNs < 0 ? '-' : '';
  const ns = Math.abs(totalNs);
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${withFraction(ns, 1e3)}µs`;
  if (ns < 1e9) return `${sign}${withFraction(ns, 1e6)}ms`;

  const hours = Math.floor(ns / 3600e9);
  const minutes = Math.floor((ns - hours * 3600e9) / 60e9);
  const secondsNs = ns - hours * 3600e9 - minutes * 60e9;
  const seconds = `${withFraction(secondsNs, 1e9)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}
