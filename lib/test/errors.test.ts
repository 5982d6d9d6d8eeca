// The error model: every code maps to its contract status; wire bodies round-trip, `retryable`
// included; the one retry rule (isRetryable, isFinalRefusal).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createError, ERROR_CODES, fromErrorBody, hasErrorCode, isFinalRefusal, isRetryable, statusToCode, type ErrorCode } from '../src/errors.ts';
import { toAppError } from '../src/service/error-handler.ts';

test('each code keeps its contract status', () => {
  assert.deepEqual(ERROR_CODES, {
    INVALID_ARGUMENT: 400,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    CONFLICT: 409,
    PAYLOAD_TOO_LARGE: 413,
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
  assert.deepEqual(wire, { error: { code: 'FORBIDDEN', message: 'creator only', details: { topicId: 't1' }, retryable: false } });
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

test('retryable crosses the wire both ways: said either way it is kept, left out it is the code’s default', () => {
  const roundTrip = (error: ReturnType<typeof createError>) => fromErrorBody(JSON.parse(JSON.stringify(error)) as unknown, error.statusCode);
  assert.equal(roundTrip(createError({ code: 'UNAVAILABLE', message: 'x' })).retryable, true);
  assert.equal(roundTrip(createError({ code: 'UNAVAILABLE', message: 'x', retryable: false })).retryable, false);
  assert.equal(roundTrip(createError({ code: 'INTERNAL', message: 'x', retryable: true })).retryable, true);
  assert.equal(roundTrip(createError({ code: 'CONFLICT', message: 'x' })).retryable, false);
  // A body without the field (another server's): the code's default.
  assert.equal(fromErrorBody({ error: { code: 'TIMEOUT', message: 'x', details: {} } }, 504).retryable, true);
  assert.equal(fromErrorBody({ error: { code: 'NOT_FOUND', message: 'x', details: {} } }, 404).retryable, false);
  assert.equal(fromErrorBody({ error: { code: 'NOT_FOUND', message: 'x', details: {}, retryable: 'yes' } }, 404).retryable, false, 'only a boolean counts');
  // Not the contract's body: the server failed (502/503/504) or the request did.
  for (const [status, retryable] of [[502, true], [503, true], [504, true], [500, false], [400, false], [429, false]] as const) {
    assert.equal(fromErrorBody('<html>bad gateway</html>', status).retryable, retryable, String(status));
  }
});

test('toAppError keeps what an error says about retrying', () => {
  assert.equal(toAppError(createError({ code: 'UNAVAILABLE', message: 'x', retryable: false })).retryable, false);
  assert.equal(toAppError(createError({ code: 'CONFLICT', message: 'x', retryable: true })).retryable, true);
  assert.equal(toAppError({ code: 'TIMEOUT', message: 'a plain object with a code' }).retryable, true);
  assert.equal(toAppError({ code: 'TIMEOUT', message: 'x', retryable: false }).retryable, false);
});

test('the retry rule: retryable by the error’s word, else by code; a final refusal is a refusal code not marked retryable', () => {
  const defaults: Record<ErrorCode, [retryable: boolean, final: boolean]> = {
    INVALID_ARGUMENT: [false, true],
    UNAUTHENTICATED: [false, true],
    FORBIDDEN: [false, true],
    NOT_FOUND: [false, true],
    PAYLOAD_TOO_LARGE: [false, true],
    CONFLICT: [false, true],
    RATE_LIMITED: [false, false],
    INTERNAL: [false, false],
    UNAVAILABLE: [true, false],
    TIMEOUT: [true, false],
  };
  for (const [code, [retryable, final]] of Object.entries(defaults) as [ErrorCode, [boolean, boolean]][]) {
    for (const error of [createError({ code, message: 'x' }), { code, message: 'a plain object, as a batch answer carries it' }]) {
      assert.equal(isRetryable(error), retryable, `${code} retryable`);
      assert.equal(isFinalRefusal(error), final, `${code} final`);
    }
  }
  assert.equal(isFinalRefusal(createError({ code: 'CONFLICT', message: 'x', retryable: true })), false, 'an answer marked retryable is not final');
  assert.equal(isFinalRefusal(fromErrorBody({ error: { code: 'NOT_FOUND', message: 'x', details: {}, retryable: true } }, 404)), false, 'nor is one whose body says so');
  assert.equal(isRetryable(createError({ code: 'UNAVAILABLE', message: 'x', retryable: false })), false);
  for (const unknown of [new Error('plain'), { code: 'ECONNRESET' }, undefined, 'UNAVAILABLE']) {
    assert.equal(isRetryable(unknown), false);
    assert.equal(isFinalRefusal(unknown), false);
  }
});
