// Tracing through the running system: with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver in
// this process, one publish is one trace whose spans cover the gateway's call, the coordinator's
// phases, persist's and counter's prepare and commit, the push fan-out and the mailer, each linked
// to its parent; the trace id is the one in the services' log lines and in error answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver, type ReceivedSpan } from '@notify/lib/testing';
import type { CallError} from './helper.ts';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

/** Spans come in batches every 100 ms; a loaded machine may take far longer. */
const WAIT_MS = 120_000;

/** The names of a span and its ancestors, from the span up to the trace's root. */
function lineage(span: ReceivedSpan, spans: readonly ReceivedSpan[]): string[] {
  const byId = new Map(spans.filter((s) => s.traceId === span.traceId).map((s) => [s.spanId, s]));
  const names: string[] = [];
  for (let at: ReceivedSpan | undefined = span; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) names.push(`${at.service}: ${at.name}`);
  return names;
}

test('one publish is one trace from the gateway through the coordinator, persist, counter, the push and the mailer', { timeout: 300_000 }, async (t) => {
  const receiver = await startOtlpReceiver(t);
  const system = await startSystem(t, { mailer: true, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', LOG_LEVEL: 'debug' } });
  const [gateway] = system.gateways;
  const alice = await socketIoClient(gateway!, undefined, t);
  await register(alice, 'alice');
  const bob = await jsonRpcClient(gateway!, undefined, t);
  await register(bob, 'bob');
  const topic = await bob.call('topics.create', { name: `traced-${Date.now()}` });
  await alice.call('topics.subscribe', { topicId: topic.id });

  const published = await bob.call('notifications.publish', { topicId: topic.id, title: 'traced', body: 'one trace', email: true });
  const id = published.notification.id;
  await alice.next('notification', (n) => n.id === id);
  await system.mail!.sink.until((mail) => mail.some((m) => m.subject.includes('traced')));

  // The call's span starts the trace: it has no parent.
  const root = await receiver.waitFor((spans) => spans.find((s) => s.service === 'gateway' && s.name === 'rpc notifications.publish'), WAIT_MS);
  assert.equal(root.parentSpanId, undefined, 'the call starts its trace');
  const traceId = root.traceId;
  assert.match(traceId, /^[0-9a-f]{32}$/);
  const inTrace = (spans: readonly ReceivedSpan[]) => spans.filter((s) => s.traceId === traceId);
  const expected = [
    ['gateway', '2pc notification.publish'],
    ['gateway', 'prepare'],
    ['persist', 'POST /api/prepare_2pc'],
    ['persist', 'prepare notification.create'],
    ['counter', 'POST /api/prepare_2pc'],
    ['counter', 'prepare notification.create'],
    ['gateway', 'commit'],
    ['persist', 'POST /api/commit_2pc'],
    ['persist', 'commit'],
    ['counter', 'POST /api/commit_2pc'],
    ['counter', 'commit'],
    ['gateway', 'after commit'],
    ['gateway', 'push fan-out'],
    ['gateway', 'follow-up'],
    ['mailer', 'POST /api/emails/notification'],
    ['mailer', 'email send'],
  ] as const;
  const spans = await receiver.waitFor(
    (all) => {
      const trace = inTrace(all);
      return expected.every(([service, name]) => trace.some((s) => s.service === service && s.name === name)) && trace;
    },
    WAIT_MS,
  );
  const find = (service: string, name: string) => spans.find((s) => s.service === service && s.name === name)!;

  await t.test('every span of the trace hangs from a span of the same trace, up to the call', () => {
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of spans) {
      if (span === root) continue;
      assert.ok(span.parentSpanId !== undefined && ids.has(span.parentSpanId), `${span.service}: ${span.name} has its parent in the trace`);
      assert.equal(lineage(span, spans).at(-1), 'gateway: rpc notifications.publish', `${span.service}: ${span.name} reaches the call`);
    }
  });

  await t.test('each step sits under the step that caused it', () => {
    const under = (service: string, name: string, ...ancestors: string[]) => {
      const chain = lineage(find(service, name), spans);
      let from = 0;
      for (const ancestor of ancestors) {
        const at = chain.indexOf(ancestor, from);
        assert.ok(at >= 0, `${service}: ${name} is under ${ancestor} (chain: ${chain.join(' ← ')})`);
        from = at + 1;
      }
    };
    const tx = 'gateway: 2pc notification.publish';
    for (const participant of ['persist', 'counter']) {
      under(participant, 'prepare notification.create', `${participant}: POST /api/prepare_2pc`, `gateway: ${participant} POST /api/prepare_2pc`, 'gateway: prepare', tx, 'gateway: rpc notifications.publish');
      under(participant, 'commit', `${participant}: POST /api/commit_2pc`, `gateway: ${participant} POST /api/commit_2pc`, 'gateway: commit', tx);
    }
    under('gateway', 'push fan-out', 'gateway: after commit', tx);
    under('mailer', 'POST /api/emails/notification', 'gateway: mailer POST /api/emails/notification', 'gateway: follow-up', tx);
    under('mailer', 'email send', 'mailer: POST /api/emails/notification', 'gateway: follow-up', tx);
  });

  await t.test('the notification remembers its trace: notifications.trace answers the same trace id', async () => {
    const traced = await bob.call('notifications.trace', { notificationId: id });
    assert.equal(traced.traceId, traceId);
  });

  await t.test('the trace id is on the log lines of the call in every service it crossed', async () => {
    for (const [service, logs] of [['gateway', gateway!.logs], ['persist', system.persist[0]!.logs], ['counter', system.counter.logs], ['mailer', system.mail!.nodes[0]!.logs]] as const) {
      assert.ok(logs.some((line) => line.trace_id === traceId), `${service} logged a line with the trace id`);
    }
    const answered = gateway!.logs.find((line) => line.msg === 'rpc call answered' && line.method === 'notifications.publish');
    assert.equal(answered?.trace_id, traceId, 'the gateway’s line for the call names its trace');
  });

  await t.test('publishes group-committed together each keep their own trace, down to each participant’s step', async () => {
    const many = await Promise.all(Array.from({ length: 12 }, (_, n) => bob.call('notifications.publish', { topicId: topic.id, title: `together ${n}`, body: 'batched' })));
    const ids = new Set(many.map((result) => result.notification.id));
    await Promise.all([...ids].map((notificationId) => alice.next('notification', (n) => n.id === notificationId)));
    const roots = await receiver.waitFor((all) => {
      const found = all.filter((s) => s.name === 'rpc notifications.publish' && s.traceId !== traceId);
      return found.length >= 12 && found;
    }, WAIT_MS);
    for (const call of roots) {
      const steps = await receiver.waitFor((all) => {
        const trace = all.filter((s) => s.traceId === call.traceId);
        const wanted = ['persist', 'counter'].flatMap((service) => ['prepare notification.create', 'commit'].map((name) => trace.find((s) => s.service === service && s.name === name)));
        // Every ancestor arrived too (the transaction's span ends last, after the follow-up).
        const complete = wanted.every((step) => step && lineage(step, trace).at(-1) === 'gateway: rpc notifications.publish');
        return complete && { trace, wanted: wanted as ReceivedSpan[] };
      }, WAIT_MS);
      for (const step of steps.wanted) {
        const chain = lineage(step, steps.trace);
        assert.ok(chain.includes('gateway: 2pc notification.publish') && chain.at(-1) === 'gateway: rpc notifications.publish', `${step.service}: ${step.name} in its own publication’s trace (chain: ${chain.join(' ← ')})`);
      }
    }
    const batched = receiver.spans.filter((s) => s.name === 'POST /api/prepare_2pc/batch');
    t.diagnostic(`${batched.length} batch prepare request(s) among the twelve publishes`);
  });

  await t.test('an error answer names its own trace, which holds the failed call', async () => {
    const refused = await bob.call('topics.get', { topicId: '00000000-0000-4000-8000-000000000000' }).then(
      () => assert.fail('an unknown topic is refused'),
      (error: unknown) => error as CallError,
    );
    assert.equal(refused.error.code, 'NOT_FOUND');
    const failedTrace = refused.error.details?.traceId;
    assert.match(String(failedTrace), /^[0-9a-f]{32}$/);
    assert.notEqual(failedTrace, traceId);
    const span = await receiver.waitFor((all) => all.find((s) => s.traceId === failedTrace && s.name === 'rpc topics.get'), WAIT_MS);
    assert.equal(span.status.code, 2, 'the refused call’s span is marked as an error');
  });

});

test('with no OTLP endpoint, nothing is traced: no trace id in answers or log lines', { timeout: 300_000 }, async (t) => {
  const system = await startSystem(t, { env: { LOG_LEVEL: 'debug' } });
  const [gateway] = system.gateways;
  const bob = await jsonRpcClient(gateway!, undefined, t);
  await register(bob, 'bob');
  const topic = await bob.call('topics.create', { name: `untraced-${Date.now()}` });
  await bob.call('notifications.publish', { topicId: topic.id, title: 'untraced', body: 'no trace' });
  const refused = await bob.call('topics.get', { topicId: '00000000-0000-4000-8000-000000000000' }).then(
    () => assert.fail('an unknown topic is refused'),
    (error: unknown) => error as CallError,
  );
  assert.equal(refused.error.details?.traceId, undefined);
  assert.ok(gateway!.logs.some((line) => line.msg === 'rpc call answered'), 'the gateway logged its calls');
  for (const [service, logs] of [['gateway', gateway!.logs], ['persist', system.persist[0]!.logs], ['counter', system.counter.logs]] as const) {
    assert.ok(!logs.some((line) => 'trace_id' in line), `${service}: no line names a trace`);
  }
});
