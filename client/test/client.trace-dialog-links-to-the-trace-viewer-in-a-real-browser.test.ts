// The trace dialog in a real Chromium against the real system with tracing on (every service
// exporting to an OTLP receiver in this process) and the gateway's TRACE_VIEW_URL set: a
// recipient opening a notification's lifecycle sees the trace it was published in, linked to the
// trace viewer in a new tab that gets no hold on this one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { request } from 'undici';
import { startOtlpReceiver } from '@notify/lib/testing';
import { jsonRpcClient, register as registerOverRpc } from '../../gateway/test/helper.ts';
import { browserWorld, expectText, person, register, topicRow } from './helper.ts';

const VIEW = 'http://traces.example:16686/trace/{traceId}';

test('the trace dialog shows the notification’s trace id, linked to the trace viewer', { timeout: 300_000 }, async (t) => {
  const receiver = await startOtlpReceiver(t);
  const world = await browserWorld(t, 'trace-link', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' }, gatewayEnv: { TRACE_VIEW_URL: VIEW } });
  if (!world) return;
  const { system, shot, pageErrors, open } = world;
  const gateway = system.gateways[0]!;

  // A publisher (a service with an API key) and its topic; the reader subscribes in the browser.
  const publisher = await jsonRpcClient(gateway, undefined, t);
  await registerOverRpc(publisher, 'Publisher');
  const topic = await publisher.call('topics.create', { name: `traced-${Math.random().toString(36).slice(2, 7)}` });
  const { secret: key } = await publisher.call('apiKeys.create', { name: 'ci' });
  const { page } = await open();
  await register(page, person('Reader'));
  await page.getByTestId('topics-refresh').click();
  await topicRow(page, topic.name).getByTestId('topic-subscribe').click();
  await topicRow(page, topic.name).getByTestId('topic-unsubscribe').waitFor();

  // Published with the caller's own traceparent: the gateway continues that trace.
  const traceId = randomBytes(16).toString('hex');
  const answer = await request(`${gateway.url}/api/v1/topics/${topic.id}/notifications`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    body: JSON.stringify({ title: 'Traced deploy', body: 'follow it' }),
  });
  assert.equal(answer.statusCode, 201, await answer.body.text());
  await expectText(page.getByTestId('feed-list'), 'Traced deploy');

  await page.getByTestId('notification-title').first().click();
  const dialog = page.getByTestId('trace-dialog');
  await dialog.waitFor();
  await expectText(dialog.getByTestId('trace-id'), traceId);
  const link = dialog.getByTestId('trace-link');
  assert.equal(await link.getAttribute('href'), VIEW.replace('{traceId}', traceId));
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.deepEqual(new Set((await link.getAttribute('rel'))?.split(/\s+/)), new Set(['noopener', 'noreferrer']));
  await shot(page, 'trace-dialog-with-link');
  assert.deepEqual(pageErrors, []);
});
