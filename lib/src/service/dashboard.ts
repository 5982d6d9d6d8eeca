// The /dashboard page: the /status snapshot rendered for a person, refreshed every 5 s.
import { escapeHtml } from './html.ts';
import type { StatusSnapshot } from './status.ts';


const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}

const STATE_COLOURS: Record<string, string> = {
  ready: '#1a7f37', up: '#1a7f37', starting: '#9a6700', degraded: '#9a6700', unknown: '#6e7781',
  draining: '#9a6700', down: '#cf222e', closed: '#cf222e',
};

const badge = (state: string) =>
  `<span class="badge" style="background:${STATE_COLOURS[state] ?? '#6e7781'}">${escapeHtml(state)}</span>`;

export function renderDashboard(status: StatusSnapshot): string {
  const rows: [string, string][] = [
    ['Instance', escapeHtml(status.instanceId)],
    ['Version', escapeHtml(status.version)],
    ['State', badge(status.state)],
    ['Uptime', duration(status.uptimeSeconds)],
    ['Restarts', status.restarts ? `${badge('degraded')} restarted ${status.restarts} time(s) after dying` : 'none'],
    ['PID / Node', `${status.pid} / ${escapeHtml(status.node)}`],
    ['Memory', `RSS ${mib(status.memory.rssBytes)}, heap ${mib(status.memory.heapUsedBytes)} of ${mib(status.memory.heapTotalBytes)}`],
    ['Event-loop lag', `mean ${status.eventLoopLagMs.mean} ms, p99 ${status.eventLoopLagMs.p99} ms, max ${status.eventLoopLagMs.max} ms`],
    ['In-flight requests', String(status.inFlightRequests)],
    ['Discovery', `${escapeHtml(status.discovery.url)} ${badge(status.discovery.registered ? 'up' : 'unknown')}`],
  ];
  const dependencies = Object.entries(status.dependencies)
    .map(
      ([name, dep]) =>
        `<tr><td>${escapeHtml(name)}${dep.required ? '' : ' <small>(optional)</small>'}</td><td>${badge(dep.state)}</td><td>${escapeHtml(dep.detail ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>${escapeHtml(status.service)} · ${escapeHtml(status.instanceId)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem;margin-bottom:.2rem} table{border-collapse:collapse;width:100%;margin:1rem 0}
td,th{border-bottom:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top} th{width:12rem;color:#57606a;font-weight:500}
.badge{color:#fff;border-radius:1rem;padding:.05rem .6rem;font-size:.85rem} small,.muted{color:#57606a}
</style></head><body>
<h1>${escapeHtml(status.service)}</h1><div class="muted">started ${escapeHtml(status.startedAt)} · <a href="status">JSON</a> · <a href="metrics">metrics</a></div>
<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
<h2 style="font-size:1.1rem">Dependencies</h2>
${dependencies ? `<table><tr><th>Name</th><th>State</th><th>Detail</th></tr>${dependencies}</table>` : '<p class="muted">none</p>'}
</body></html>`;
}
