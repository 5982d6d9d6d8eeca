// The error model: every code maps to its contract status; wire bodies round-trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createError, ERROR_CODES, fromErrorBody, hasErrorCode, statusToCode } from '../src/errors.ts';
import { toAppError } from '../src/service/error-handler.ts';

test('each code keeps its contract status', () => {
  assert.deepEqual(ERROR_CODES, {
    INVALID_ARGUMENT: 400,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    CONFLICT: 409,
    RATE_LIMITED: 429,
    INTERNAL: 500,
    UNAVAILABLE: 503,
    TIMEOUT: 504,
  });
  for (const [code, status] of Object.entries(ERROR_CODES)) assert.equal(statusToCode(status), code);
});

test('errors cross the wire as plain bodies and are recognised by code', () => {
  const error = createError({ code: 'FORBIDDEN', message: 'creator only', details: { topicId: 't1' } });
  assert.equal(error.statusCode, 403);
  assert.equal(error.retryable, false);
  const wire = JSON.parse(JSON.stringify(error)) as unknown;
  assert.deepEqual(wire, { error: { code: 'FORBIDDEN', message: 'creator only', details: { topicId: 't1' } } });
  const back = fromErrorBody(wire);
  assert.equal(back.code, 'FORBIDDEN');
  assert.ok(hasErrorCode({ code: 'TIMEOUT', message: 'x' }));
  assert.ok(!hasErrorCode(new Error('plain')));
  assert.equal(fromErrorBody('garbage', 502).code, 'INTERNAL');
  assert.equal(createError({ code: 'UNAVAILABLE', message: 'x' }).retryable, true);
});

test('an unreachable database or peer maps to UNAVAILABLE (503), anything unknown to INTERNAL', () => {
  const prismaDown = Object.assign(new Error('Can’t reach database server'), {
    code: 'P2010',
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 } } },
  });
  for (const error of [prismaDown, Object.assign(new Error('x'), { code: 'P1001' }), Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })]) {
    const mapped = toAppError(error);
    assert.equal(mapped.code, 'UNAVAILABLE');
    assert.equal(mapped.statusCode, 503);
    assert.equal(mapped.retryable, true);
  }
  assert.equal(toAppError(new Error('bug')).code, 'INTERNAL');
  assert.equal(toAppError(Object.assign(new Error('unique'), { code: 'P2002' })).code, 'INTERNAL');
});
