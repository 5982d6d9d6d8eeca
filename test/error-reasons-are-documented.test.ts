// Every `details.reason` is in the kit's catalogue (REASON) and documented, as configuration keys
// are: each catalogue value has a row in a reason table of docs/services-api.md or
// docs/client-api.md, each row there is in the catalogue, and no service puts a reason literal the
// catalogue lacks in an error's details.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REASON } from '../lib/src/reasons.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const DOCS = ['docs/services-api.md', 'docs/client-api.md'];
/** The workspaces whose `src/` may set reasons. */
const WORKSPACES = ['lib', 'discovery', 'auth', 'counter', 'persist', 'mailer', 'avatar', 'gateway', 'client'];
/** Reasons that are not ours to list: fastify's own codes, passed on for requests it refused (`FST_ERR_…`). */
const FOREIGN = /^FST_ERR_/;

const catalogue = new Set<string>(Object.values(REASON));

/** The first column of every table headed `| reason | …`, per document. */
function documentedReasons(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const doc of DOCS) {
    const rows: string[] = [];
    let inTable = false;
    for (const line of readFileSync(join(root, doc), 'utf8').split('\n')) {
      if (/^\|\s*reason\s*\|/.test(line)) inTable = true;
      else if (!line.startsWith('|')) inTable = false;
      else if (inTable && !/^\|\s*-/.test(line)) {
        const cell = /^\|\s*`([^`]+)`\s*\|/.exec(line);
        assert.ok(cell, `${doc}: a reason row names its reason in backticks: ${line}`);
        rows.push(cell[1]!);
      }
    }
    found.set(doc, rows);
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'generated' ? [] : sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

test('every reason in the catalogue is documented, and every documented reason is in the catalogue', () => {
  const documented = documentedReasons();
  const all = new Set([...documented.values()].flat());
  for (const reason of catalogue) assert.ok(all.has(reason), `${DOCS.join(' or ')} has a row for ${reason}`);
  for (const [doc, rows] of documented) {
    assert.ok(rows.length > 0, `${doc} has a reason table`);
    for (const reason of rows) {
      if (FOREIGN.test(reason)) continue;
      assert.ok(catalogue.has(reason), `${doc} documents ${reason}, which REASON (lib/src/reasons.ts) does not hold`);
    }
  }
});

test('every reason literal a service puts in error details is in the catalogue', () => {
  // `details: { …, reason: '…' }`, on one line or several (metric labels and log fields named
  // `reason` are not in a `details` object).
  const literal = /\bdetails:\s*\{[^{}]*?\breason:\s*(['"`])([^'"`]*)\1/g;
  // The pattern finds what it is meant to find.
  const sample = `createError({ code: 'FORBIDDEN', message: 'm', details: {\n  caller,\n  reason: 'some_reason' } }); counter.inc({ reason: 'label' });`;
  assert.deepEqual([...sample.matchAll(literal)].map((match) => match[2]), ['some_reason']);
  let files = 0;
  for (const workspace of WORKSPACES) {
    for (const file of sourceFiles(join(root, workspace, 'src'))) {
      files += 1;
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(literal)) {
        const line = text.slice(0, match.index).split('\n').length;
        assert.ok(catalogue.has(match[2]!), `${relative(root, file)}:${line} sets reason '${match[2]}', which REASON (lib/src/reasons.ts) does not hold`);
      }
    }
  }
  assert.ok(files > 100, `scanned ${files} source files`);
});
