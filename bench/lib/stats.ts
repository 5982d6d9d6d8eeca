// Small numeric helpers for the benchmark: percentiles, medians and a plain-text table.

/** The p-th percentile (0..100) of `values` (nearest rank); NaN when empty. Sorts a copy. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** A growable list of samples (latencies in ms) without boxing every number. */
export class Samples {
  private data = new Float64Array(1024);
  private count = 0;

  add(value: number): void {
    if (this.count === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.count++] = value;
  }

  get size(): number {
    return this.count;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.count);
  }

  percentile(p: number): number {
    return percentile(this.values(), p);
  }
}

/** Formats a number for the table: integers with thousands separators, others with `digits` decimals. */
export function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** A left-aligned first column, right-aligned others, `|`-separated (renders as Markdown too). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i === 0 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** What one load phase measured: throughput, failures, latency (ms) and CPU (share of one core, by process). */
export interface LoadFigures {
  rate: number;
  ok: number;
  errors: number;
  firstError?: string;
  p50: number;
  p99: number;
  cpu: Record<string, number>;
}

/** A bench's progress line, timestamped. */
export const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/**
 * `slots` callers, each firing its next call when the previous one answers; only calls that finish
 * while `measuring` is set are counted and timed. A failing call backs off 5 ms so it cannot spin.
 */
export class ClosedLoop {
  readonly samples = new Samples();
  ok = 0;
  errors = 0;
  firstError: string | undefined;
  measuring = false;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(slots: number, fire: (slot: number) => Promise<unknown>) {
    this.loops = Array.from({ length: slots }, async (_, slot) => {
      while (this.running) {
        const began = performance.now();
        try {
          await fire(slot);
          if (this.measuring) {
            this.ok += 1;
            this.samples.add(performance.now() - began);
          }
        } catch (error) {
          if (this.measuring) this.errors += 1;
          this.firstError ??= (error as Error).message;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    });
  }

  /** Stops every caller after its call in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** The counted calls as figures over `seconds` of measuring. */
  figures(seconds: number, cpu: Record<string, number>): LoadFigures {
    return {
      rate: this.ok / seconds,
      ok: this.ok,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      p50: this.samples.percentile(50),
      p99: this.samples.percentile(99),
      cpu,
    };
  }
}
