// Tracing in the mailer (its nodes exporting to an OTLP receiver in this process): a queued email
// carries the trace of the request that queued it, and every attempt to send it is an `email send`
// span of that trace, a child of that request's span; a failed attempt is marked an error, and its
// log line names the trace and the span.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { startOtlpReceiver } from '@notify/lib/testing';
import { startMailers } from './helper.ts';

test('each attempt at a welcome email is a span in the trace of the request that queued it; a refused one is an error and logs its trace', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const { sink, nodes } = await startMailers(t, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' } });
  const [node] = nodes;
  const traceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  sink.refuseFor(1_500);

  const response = await fetch(`${node!.url}/api/emails/welcome`, {
    method: 'POST',
    headers: { ...node!.headers(undefined, 'auth'), 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
    body: JSON.stringify({ userId: 'traced-1', email: 'traced-1@example.test', name: 'Traced' }),
  });
  assert.equal(response.status, 202);
  await sink.until((mail) => mail.some((m) => m.to[0] === 'traced-1@example.test'), 30_000);

  const sends = await receiver.waitFor(() => {
    const found = receiver.trace(traceId).filter((span) => span.name === 'email send');
    return found.some((span) => span.attributes['email.outcome'] === 'sent') && found.some((span) => span.attributes['email.outcome'] === 'failed') ? found : undefined;
  });
  const request = receiver.trace(traceId).find((span) => span.kind === 'server' && span.name === 'POST /api/emails/welcome');
  assert.ok(request, 'the request that queued it is in the trace');
  assert.equal(request.parentSpanId, callerSpanId, 'continued from the caller');
  for (const send of sends) {
    assert.equal(send.parentSpanId, request.spanId, 'each attempt is a child of the request that queued the email');
    assert.equal(send.kind, 'consumer');
    assert.equal(send.attributes['email.kind'], 'welcome');
    assert.equal(send.attributes['email.recipient.user_id'], 'traced-1');
  }
  const failed = sends.filter((span) => span.attributes['email.outcome'] === 'failed');
  const sent = sends.find((span) => span.attributes['email.outcome'] === 'sent')!;
  for (const span of failed) assert.equal(span.status.code, 2, 'a failed attempt is an error');
  assert.notEqual(sent.status.code, 2);
  assert.equal(sent.attributes['email.attempt'], Math.max(...sends.map((span) => Number(span.attributes['email.attempt']))), 'the last attempt is the one that went out');
  assert.equal(failed.find((span) => span.attributes['email.attempt'] === 1)?.attributes['email.attempt'], 1, 'the first attempt failed');
  // The SMTP send is a child of its attempt.
  const smtp = await receiver.waitFor(() => receiver.trace(traceId).find((span) => span.name === 'smtp send' && span.parentSpanId === sent.spanId));
  assert.equal(smtp.kind, 'client');

  // The failed attempt's log line names its trace and span.
  const logged = node!.logs.find((line) => line.msg === 'email send failed; will retry' && line.key === 'welcome:traced-1');
  assert.ok(logged, 'the failure was logged');
  assert.equal(logged.trace_id, traceId);
  assert.ok(failed.some((span) => span.spanId === logged.span_id), 'the log line names the failed attempt’s span');
});
