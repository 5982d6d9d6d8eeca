// Distributed tracing through the whole system, with every service exporting to an OTLP receiver in
// this process: a publication made with `email: true` continues the caller's trace, and each
// recipient's email is sent in an `email send` span of that same trace, under the mailer's request
// that queued it; the notification remembers the trace (notifications.trace and REST answer its id,
// and the viewer link TRACE_VIEW_URL makes of it). A gateway with tracing off sends no span and
// stores no trace id, whatever the caller's traceparent.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { request } from 'undici';
import { startOtlpReceiver, type ReceivedSpan } from '@notify/lib/testing';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

const VIEW = 'http://traces.example:16686/trace/{traceId}';

async function rest(port: number, method: 'GET' | 'POST', path: string, key: string, options: { body?: unknown; traceparent?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.traceparent) headers.traceparent = options.traceparent;
  const answer = await request(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, text, body: JSON.parse(text) as Record<string, unknown> };
}

/** A caller's own trace context: a fresh trace id and span id, sampled. */
function callerTrace(): { traceId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

test('a publication’s trace reaches its emails and is remembered with it; a gateway with tracing off sends and stores none', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const system = await startSystem(t, {
    mailer: true,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    gatewayEnv: { TRACE_VIEW_URL: VIEW },
  });
  const { sink } = system.mail!;
  const [gateway] = system.gateways;
  const alice = await jsonRpcClient(gateway!, undefined, t);
  await register(alice, 'Alice');
  const bob = await socketIoClient(gateway!, undefined, t);
  const b = await register(bob, 'Bob');
  b.email = b.email.toLowerCase();
  const topic = await alice.call('topics.create', { name: `traced-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  const { secret: key } = await alice.call('apiKeys.create', { name: 'traced CI' });

  await t.test('the email is sent in the publication’s trace, under the mailer request that queued it', async () => {
    const caller = callerTrace();
    const published = await rest(gateway!.port, 'POST', `/api/v1/topics/${topic.id}/notifications`, key, {
      body: { title: 'traced release', body: 'follow me', email: true },
      traceparent: caller.traceparent,
    });
    assert.equal(published.status, 201, published.text);
    const notificationId = (published.body.notification as { id: string }).id;
    await sink.until((mail) => mail.some((m) => m.subject.includes('traced release') && m.to[0] === b.email), 30_000);

    // The send's span, once it and every span above it up to the gateway's request have arrived.
    const { send, chain } = await receiver.waitFor(() => {
      const found = receiver.trace(caller.traceId).find((span) => span.service === 'mailer' && span.name === 'email send' && span.attributes['notification.id'] === notificationId);
      if (!found) return undefined;
      const above = receiver.ancestors(found);
      const top = above.at(-1);
      return top?.service === 'gateway' && top.kind === 'server' && top.name === 'POST /api/v1/topics/:topicId/notifications' ? { send: found, chain: above } : undefined;
    });
    assert.equal(send.kind, 'consumer');
    assert.equal(send.attributes['email.recipient.user_id'], b.id);
    assert.equal(send.attributes['email.attempt'], 1);
    assert.equal(send.attributes['email.kind'], 'notification');
    assert.notEqual(send.status.code, 2, 'a sent email is no error');
    // Its parent is the mailer's request that queued it, made by the gateway's follow-up.
    assert.equal(chain[0]!.service, 'mailer');
    assert.equal(chain[0]!.kind, 'server');
    assert.equal(chain[0]!.name, 'POST /api/emails/notification');
    assert.ok(chain.some((span) => span.service === 'gateway' && span.kind === 'client' && span.name === 'mailer POST /api/emails/notification'), 'the gateway’s call to the mailer is on the way up');
    // The gateway's request span continued the caller's traceparent: the top of the chain is its child.
    assert.equal(chain.at(-1)!.parentSpanId, caller.traceparent.split('-')[2]);

    // The SMTP send and the preference read are children of the send.
    const children = await receiver.waitFor(() => {
      const below = receiver.trace(caller.traceId).filter((span) => span.parentSpanId === send.spanId);
      return below.some((span) => span.name === 'smtp send') && below.some((span) => span.name.startsWith('persist GET')) ? below : undefined;
    });
    assert.equal(children.find((span) => span.name === 'smtp send')!.kind, 'client');
    assert.ok(children.find((span) => span.name.startsWith('persist GET'))!.service === 'mailer');

    // The emailed event is recorded in the same trace.
    await receiver.waitFor(() => receiver.trace(caller.traceId).some((span) => span.service === 'mailer' && span.name === 'email emailed event'));

    // The notification remembers the trace: over RPC with the viewer's link, over REST.
    const trace = await alice.call('notifications.trace', { notificationId });
    assert.equal(trace.traceId, caller.traceId);
    assert.equal(trace.traceUrl, VIEW.replace('{traceId}', caller.traceId));
    const read = await rest(gateway!.port, 'GET', `/api/v1/notifications/${notificationId}`, key);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.traceId, caller.traceId);
    // A recipient tracing it sees the same trace.
    assert.equal((await bob.call('notifications.trace', { notificationId })).traceId, caller.traceId);
  });

  await t.test('a publication without a caller trace starts its own, and that one is remembered', async () => {
    const published = await alice.call('notifications.publish', { topicId: topic.id, title: 'own trace', body: '', email: true });
    const stored = (await alice.call('notifications.trace', { notificationId: published.notification.id })).traceId;
    // The RPC call may or may not be a span of its own; the REST call always is.
    const viaRest = await rest(gateway!.port, 'POST', `/api/v1/topics/${topic.id}/notifications`, key, { body: { title: 'rest own trace', body: '', email: true } });
    const restId = (viaRest.body.notification as { id: string }).id;
    const restTrace = (await alice.call('notifications.trace', { notificationId: restId })).traceId;
    assert.match(restTrace ?? '', /^[0-9a-f]{32}$/);
    const send = await receiver.waitFor(() => receiver.spans.find((span) => span.name === 'email send' && span.attributes['notification.id'] === restId));
    assert.equal(send.traceId, restTrace);
    if (stored !== null) assert.match(stored, /^[0-9a-f]{32}$/);
  });

  await t.test('a digest is sent in a span of its own, linked to the trace of every publication it lists', async () => {
    const carol = await jsonRpcClient(gateway!, undefined, t);
    const c = await register(carol, 'Carol');
    const digestTopic = await alice.call('topics.create', { name: `digested-${Date.now()}` });
    await carol.call('topics.subscribe', { topicId: digestTopic.id });
    // One email a 6 s window, the rest held for its digest.
    await carol.call('preferences.set', { digest: { threshold: 1, windowMinutes: 0.1 } });
    const callers = [callerTrace(), callerTrace(), callerTrace()];
    for (const [index, caller] of callers.entries()) {
      const answer = await rest(gateway!.port, 'POST', `/api/v1/topics/${digestTopic.id}/notifications`, key, { body: { title: `digested ${index}`, body: '', email: true }, traceparent: caller.traceparent });
      assert.equal(answer.status, 201, answer.text);
    }
    const digestSpan = await receiver.waitFor(
      () => receiver.spans.find((span) => span.name === 'email send' && span.attributes['email.kind'] === 'digest' && span.attributes['email.recipient.user_id'] === c.id && span.attributes['email.outcome'] === 'sent'),
      40_000,
    );
    // The first went out alone; the digest lists the other two, and links to their traces.
    const linked = new Set(digestSpan.links.map((link) => link.traceId));
    assert.equal(digestSpan.attributes['email.digest.items'], 2);
    assert.equal(linked.size, 2, JSON.stringify(digestSpan.links));
    for (const traceId of linked) assert.ok(callers.some((caller) => caller.traceId === traceId), 'each link names a publication’s trace');
    assert.ok(!callers.some((caller) => caller.traceId === digestSpan.traceId), 'the digest is a trace of its own');
  });

  await t.test('a gateway with tracing off sends no span and stores no trace id, even for a caller with a traceparent', async () => {
    const quiet = await system.startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: '' });
    const caller = callerTrace();
    const published = await rest(quiet.port, 'POST', `/api/v1/topics/${topic.id}/notifications`, key, {
      body: { title: 'untraced release', body: '', email: true },
      traceparent: caller.traceparent,
    });
    assert.equal(published.status, 201, published.text);
    const notificationId = (published.body.notification as { id: string }).id;
    const trace = await alice.call('notifications.trace', { notificationId });
    assert.equal(trace.traceId, null);
    assert.equal(trace.traceUrl, null);
    const read = await rest(quiet.port, 'GET', `/api/v1/notifications/${notificationId}`, key);
    assert.equal(read.body.traceId, null);
    // The mailer (tracing on) sends this email in a trace of its own, not the caller's: the quiet
    // gateway passed no traceparent on. Once its span is in, the quiet gateway's would be too.
    const send = await receiver.waitFor(() => receiver.spans.find((span) => span.name === 'email send' && span.attributes['notification.id'] === notificationId));
    assert.notEqual(send.traceId, caller.traceId);
    // The kit names a tracing process's resource <service>-<host>-<pid>.
    const fromQuiet = (span: ReceivedSpan) => span.instance === `gateway-${hostname()}-${quiet.process.pid}`;
    assert.ok(receiver.spans.some((span) => span.instance === `gateway-${hostname()}-${gateway!.process.pid}`), 'the traced gateway is told apart by the same name');
    assert.deepEqual(receiver.spans.filter(fromQuiet), [], 'the gateway with tracing off sent nothing');
    assert.deepEqual(receiver.trace(caller.traceId), [], 'nothing continued the caller’s trace');
  });

});
