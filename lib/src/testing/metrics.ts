// Reading a service's /metrics in tests: one sample, or the sum over matching series.
import { request } from 'undici';

type Target = { url: string } | string;

/** Every sample of `name` on the target's /metrics whose series carries each label in `labels`. */
async function samples(target: Target, name: string, labels: Record<string, string>): Promise<number[]> {
  const url = typeof target === 'string' ? target : target.url;
  // undici, not fetch: the service may listen on a port fetch refuses (persist's 6000).
  const text = await (await request(`${url}/metrics`)).body.text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (wanted.every((label) => (match[2] ?? '').includes(label))) found.push(Number(match[3]));
  }
  return found;
}

/** The first matching sample, or undefined when the service has none. */
export async function metricSample(target: Target, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return (await samples(target, name, labels))[0];
}

/** The matching samples summed (0 when none): a counter across the series the labels leave open. */
export async function metricSum(target: Target, name: string, labels: Record<string, string> = {}): Promise<number> {
  return (await samples(target, name, labels)).reduce((sum, value) => sum + value, 0);
}
