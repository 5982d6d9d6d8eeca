// GET /api/v1/docs: the OpenAPI document as a page for a person, rendered on the server from the
// document itself (operations, parameters, bodies, answers); self-contained, nothing fetched.
import { escapeHtml } from '@notify/lib';

type Json = Record<string, unknown>;

const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

export function docsPage(document: Json): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<string, Record<string, Json>>;
  const sections: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters as Json[] | undefined) ?? [];
      const rows = params
        .map((p) => `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(String(p.description ?? ''))}</td><td>${json(p.schema)}</td></tr>`)
        .join('');
      const body = (op.requestBody as { content: { 'application/json': { schema: unknown } } } | undefined)?.content['application/json'].schema;
      const responses = Object.entries(op.responses as Record<string, Json>)
        .map(([status, answer]) => {
          const schema = (answer.content as { 'application/json'?: { schema: unknown } } | undefined)?.['application/json']?.schema;
          return `<li><b>${escapeHtml(status)}</b> ${escapeHtml(String(answer.description))}${status.startsWith('2') && schema ? json(schema) : ''}</li>`;
        })
        .join('');
      sections.push(`<section id="${escapeHtml(String(op.operationId))}">
<h2><span class="method">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h2>
<p>${escapeHtml(String(op.summary))}</p>
${rows ? `<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>meaning</th><th>schema</th></tr>${rows}</table>` : ''}
${body ? `<h3>Body (application/json)</h3>${json(body)}` : ''}
<h3>Answers</h3><ul>${responses}</ul>
</section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
pre{background:#f5f5f5;padding:.5em;overflow:auto;font-size:12px;max-height:24em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ddd;padding:4px;vertical-align:top;text-align:left}.method{background:#225;color:#fff;padding:2px 6px;border-radius:3px}
section{border-top:1px solid #ccc;margin-top:2em}</style></head>
<body><h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>Authentication: <code>Authorization: Bearer &lt;API key&gt;</code>. The machine-readable document: <a href="openapi.json">openapi.json</a> (OpenAPI ${escapeHtml(String(document.openapi))}).</p>
<ul>${Object.entries(paths)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `<li><a href="#${escapeHtml(String(op.operationId))}">${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</a></li>`))
    .join('')}</ul>
${sections.join('\n')}
<h2>Error body</h2>${json((document.components as { schemas: Json }).schemas.Error)}
</body></html>`;
}
