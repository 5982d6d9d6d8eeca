// The services' own Prometheus metrics, read before and after a phase: the difference of each
// histogram's _sum and _count is the mean time of what happened in between (per label set), which
// splits a publish into its steps (2PC decision, upstream calls, participants' routes, fan-out).

export type MetricSnapshot = Map<string, number>;

export async function scrape(serviceUrl: string): Promise<MetricSnapshot> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const snapshot: MetricSnapshot = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    snapshot.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return snapshot;
}

export interface HistogramDelta {
  metric: string;
  labels: string;
  count: number;
  meanMs: number;
}

/** Calls observed between the snapshots and their mean duration, per label set of histogram `name`. */
export function histogramDeltas(before: MetricSnapshot, after: MetricSnapshot, name: string, keepLabels: (labels: string) => boolean = () => true): HistogramDelta[] {
  const deltas: HistogramDelta[] = [];
  const prefix = `${name}_count`;
  for (const [key, count] of after) {
    if (!key.startsWith(prefix)) continue;
    const labels = key.slice(prefix.length);
    if (!keepLabels(labels)) continue;
    const calls = count - (before.get(key) ?? 0);
    if (calls <= 0) continue;
    const sum = (after.get(`${name}_sum${labels}`) ?? 0) - (before.get(`${name}_sum${labels}`) ?? 0);
    deltas.push({ metric: name, labels: stripCommon(labels), count: calls, meanMs: (1000 * sum) / calls });
  }
  return deltas.sort((a, b) => b.count - a.count);
}

/** `{service="gateway",method="x"}` → `method="x"`: the service label is the same everywhere. */
function stripCommon(labels: string): string {
  return labels
    .replace(/^\{|\}$/g, '')
    .split(/,(?=[a-z_]+=")/)
    .filter((pair) => !pair.startsWith('service='))
    .join(',');
}
