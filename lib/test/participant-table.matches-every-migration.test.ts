// Every two-phase-commit participant creates the state table the kit's queries rely on, verbatim.
import assert from 'node:assert/strict';
import { readFileSync, globSync } from 'node:fs';
import { test } from 'node:test';
import { PARTICIPANT_TABLE_DDL } from '../src/two-phase/protocol.ts';

test('each participant service’s migrations contain the kit’s participant table DDL', () => {
  const root = new URL('../..', import.meta.url).pathname;
  for (const service of ['counter', 'persist']) {
    const sql = globSync(`${service}/prisma/migrations/*/migration.sql`, { cwd: root })
      .map((file) => readFileSync(`${root}${file}`, 'utf8'))
      .join('\n');
    assert.ok(sql.includes(PARTICIPANT_TABLE_DDL), `${service} creates two_phase_transactions exactly as the kit defines it`);
  }
});
