// The service lifecycle: prepare steps before the port opens, start steps once ready, drain steps as
// a close begins, close steps in reverse, then the clients from service.client(); and what a
// failing or interrupted start does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createService, type Service } from '../src/service/create-service.ts';
import { testConfig } from './helper.ts';

/** Discovery is not running in these tests: its watches fail quietly until closed. */
const quiet = () => testConfig({ LOG_LEVEL: 'silent', DISCOVERY_URL: 'http://127.0.0.1:9' });

function listening(service: Service): boolean {
  return service.app.server.listening;
}

test('listen runs prepare steps before the port opens and start steps once ready; close runs drain, then close steps in reverse, then clients', async (t) => {
  const service = createService({ name: 'ordered', config: quiet() });
  t.after(() => service.close('test over'));
  const order: string[] = [];
  const client = service.client('other');
  const closeClient = client.close.bind(client);
  client.close = async () => {
    order.push('client closed');
    await closeClient();
  };

  service.onPrepare(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    order.push(`prepare 1 (listening: ${listening(service)}, ${service.state})`);
  });
  service.onPrepare(() => void order.push(`prepare 2 (listening: ${listening(service)})`));
  service.onStart(async (bound) => {
    await new Promise((resolve) => setImmediate(resolve));
    order.push(`start 1 (port given: ${bound.port === (service.app.server.address() as { port: number }).port}, ${service.state})`);
  });
  service.onStart(() => void order.push('start 2'));
  service.onDrain(() => void order.push(`drain 1 (${service.state}, listening: ${listening(service)})`));
  service.onDrain(() => void order.push('drain 2'));
  service.onClose(() => void order.push(`close 1 (listening: ${listening(service)})`));
  service.onClose(() => void order.push('close 2'));

  const bound = await service.listen();
  assert.ok(bound.port > 0);
  assert.deepEqual(order, ['prepare 1 (listening: false, starting)', 'prepare 2 (listening: false)', 'start 1 (port given: true, ready)', 'start 2']);

  order.length = 0;
  await service.close('test');
  assert.deepEqual(order, ['drain 1 (draining, listening: true)', 'drain 2', 'close 2', 'close 1 (listening: false)', 'client closed']);
});

test('service.client is one client per service and tag', (t) => {
  const service = createService({ name: 'caller', config: quiet() });
  t.after(() => service.close('test over'));
  const plain = service.client('mailer');
  assert.equal(service.client('mailer'), plain, 'the same client on every call');
  const tagged = service.client('mailer', { tag: 'api' });
  assert.notEqual(tagged, plain, 'a tag is another view of the service');
  assert.equal(service.client('mailer', { tag: 'api' }), tagged);
  assert.notEqual(service.client('auth'), plain);
});

test('a failing prepare step fails listen and the port never opens', async (t) => {
  const service = createService({ name: 'broken', config: quiet() });
  t.after(() => service.close('test over'));
  let started = false;
  service.onPrepare(() => {
    throw new Error('no database');
  });
  service.onStart(() => {
    started = true;
  });
  await assert.rejects(service.listen(), /no database/);
  assert.equal(listening(service), false);
  assert.equal(started, false);
  assert.equal(service.state, 'starting');
});

test('a close that begins during the start steps lets the step in progress finish and starts no other', async (t) => {
  const service = createService({ name: 'interrupted', config: quiet() });
  t.after(() => service.close('test over'));
  const order: string[] = [];
  let closed: Promise<void> | undefined;
  service.onStart(() => {
    closed = service.close('stopped while starting');
    order.push('start 1');
  });
  service.onStart(() => void order.push('start 2'));
  service.onClose(() => void order.push('close'));
  await service.listen();
  await closed;
  assert.deepEqual(order, ['start 1', 'close']);
  assert.equal(service.state, 'closed');
});

test('a close during the prepare steps means the port never opens', async (t) => {
  const service = createService({ name: 'abandoned', config: quiet() });
  t.after(() => service.close('test over'));
  service.onPrepare(() => {
    void service.close('stopped while preparing');
  });
  await assert.rejects(service.listen(), /abandoned closed while starting/);
  assert.equal(listening(service), false);
});

test('a close during a prepare step waits for it, begins no other, and its close steps find what it started', async (t) => {
  const service = createService({ name: 'interrupted', config: quiet() });
  t.after(() => service.close('test over'));
  const events: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  service.onPrepare(async () => {
    events.push('first prepare begins');
    await held;
    events.push('first prepare started its work');
  });
  service.onPrepare(() => void events.push('second prepare'));
  service.onClose(() => void events.push('close step'));
  const listening$ = service.listen();
  while (!events.includes('first prepare begins')) await new Promise((resolve) => setImmediate(resolve));
  const closed = service.close('stopped while preparing');
  release();
  await assert.rejects(listening$, /interrupted closed while starting/);
  await closed;
  assert.deepEqual(events, ['first prepare begins', 'first prepare started its work', 'close step']);
  assert.equal(listening(service), false);
});
