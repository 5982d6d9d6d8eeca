// Go-duration parsing and formatting, the duration syntax of Consul's API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../src/registry/duration.ts';

test('parses Go durations into milliseconds', () => {
  const cases: [string, number][] = [
    ['10s', 10_000],
    ['100ms', 100],
    ['1m', 60_000],
    ['5m', 300_000],
    ['1h2m3.5s', 3_723_500],
    ['1.5h', 5_400_000],
    ['300us', 0.3],
    ['300µs', 0.3],
    ['2000000ns', 2],
    ['.5s', 500],
    ['1.s', 1_000],
    ['0', 0],
    ['-1s', -1_000],
    ['+2s', 2_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('rejects what Go rejects, with Go wording', () => {
  assert.throws(() => parseDuration(''), /time: invalid duration ""/);
  assert.throws(() => parseDuration('abc'), /time: invalid duration "abc"/);
  assert.throws(() => parseDuration('5'), /time: missing unit in duration "5"/);
  assert.throws(() => parseDuration('5x'), /time: unknown unit "x" in duration "5x"/);
  assert.throws(() => parseDuration('.s'), /invalid duration/);
  assert.throws(() => parseDuration('1s '), /unknown unit "s " in duration/);
  assert.throws(() => parseDuration('s'), /invalid duration/);
});

test('formats like Go Duration.String', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [10_000, '10s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [3_723_500, '1h2m3.5s'],
    [3_600_000, '1h0m0s'],
    [300, '300ms'],
    [1.5, '1.5ms'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [-1_500, '-1.5s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

test('format and parse round-trip', () => {
  for (const ms of [1, 250, 1_000, 61_500, 7_200_000, 0.25]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
