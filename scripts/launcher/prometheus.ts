// Prometheus on this machine: the monitoring/ configuration, made runnable by the Prometheus at
// hand. Debian's build has no Consul discovery, so the copy reads the same instances from
// discovery's Prometheus HTTP discovery route instead (same `__meta_consul_*` labels, same relabelling).
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';

export const MONITORING_DIR = resolve(import.meta.dirname, '../../monitoring');
export const PROMETHEUS_CONFIG = join(MONITORING_DIR, 'prometheus/prometheus.yml');

interface ScrapeConfig {
  consul_sd_configs?: unknown;
  http_sd_configs?: unknown;
  [key: string]: unknown;
}

/**
 * The committed configuration with discovery at `discoveryUrl`, without what only compose runs
 * (the `alerting` section and static scrape jobs): Consul discovery when `consulSd`,
 * otherwise HTTP discovery on discovery's /prometheus/targets. Rule files become absolute paths, so
 * the copy can live anywhere; `scrapeInterval` overrides the scrape and evaluation intervals.
 */
export function localPrometheusConfig(options: {
  discoveryUrl: string;
  consulSd: boolean;
  scrapeInterval?: string;
  /** A file holding OPERATOR_TOKEN, when the instances have one; without, they answer loopback scrapes without a token. */
  operatorTokenFile?: string;
  /** A file holding a registry read token (discovery's ACLs deny reads without one); default: the committed path. */
  discoveryTokenFile?: string;
}): string {
  const config = parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    alerting?: unknown;
    scrape_configs: ScrapeConfig[];
  };
  // What only compose runs (Alertmanager, postgres_exporter) is left out: its names resolve nowhere here.
  delete config.alerting;
  config.scrape_configs = config.scrape_configs.filter((scrape) => scrape.consul_sd_configs);
  config.rule_files = config.rule_files.map((file) => join(MONITORING_DIR, 'prometheus', file));
  if (options.scrapeInterval) {
    config.global.scrape_interval = options.scrapeInterval;
    config.global.evaluation_interval = options.scrapeInterval;
  }
  const discovery = new URL(options.discoveryUrl);
  for (const scrape of config.scrape_configs) {
    if (!scrape.consul_sd_configs) continue;
    if (options.operatorTokenFile) scrape.authorization = { type: 'Bearer', credentials_file: options.operatorTokenFile };
    else delete scrape.authorization;
    const committed = (scrape.consul_sd_configs as { authorization?: { credentials_file?: string } }[])[0]?.authorization;
    const authorization = { type: 'Bearer', credentials_file: options.discoveryTokenFile ?? committed?.credentials_file };
    if (options.consulSd) {
      scrape.consul_sd_configs = [{ server: discovery.host, refresh_interval: options.scrapeInterval ?? '15s', authorization }];
    } else {
      delete scrape.consul_sd_configs;
      scrape.http_sd_configs = [{ url: `${discovery.origin}/prometheus/targets`, refresh_interval: options.scrapeInterval ?? '15s', authorization }];
    }
  }
  return `# Generated from monitoring/prometheus/prometheus.yml by scripts/launcher/prometheus.ts.\n${stringify(config)}`;
}

/** Whether a `prometheus` binary is on PATH. */
export function prometheusInstalled(): boolean {
  return spawnSync('prometheus', ['--version']).error === undefined;
}

/** Whether the `promtool` on PATH accepts `consul_sd_configs` (Debian's build does not). */
export function promtoolHasConsulSd(): boolean | undefined {
  const probe = spawnSync('promtool', ['check', 'config', PROMETHEUS_CONFIG], { encoding: 'utf8' });
  if (probe.error) return undefined;
  return !`${probe.stdout}${probe.stderr}`.includes('field consul_sd_configs not found');
}
