// The REST API for services, over real HTTP (undici) against the whole system: a publication made
// with an API key reaches a subscriber's WebSocket and their mailbox; keys are refused once revoked
// (on every gateway), on another user's topic, unknown or malformed, and past their rate; bad input
// of any kind is a 4xx, never a 5xx; the OpenAPI document is valid and every operation in it is
// exercised here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { request } from 'undici';
import { jsonRpcClient, register, socketIoClient, startSystem } from './helper.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** Every operation the tests saw answered with a 2xx: "METHOD /path/{template}" once resolved. */
const exercised: { method: string; path: string }[] = [];

async function rest(port: number, method: string, path: string, options: { key?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | Buffer | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const answer = await request(`http://127.0.0.1:${port}${path}`, { method: method as 'GET', headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await answer.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (the docs page)
  }
  if (answer.statusCode < 300) exercised.push({ method, path: path.split('?')[0]! });
  return { status: answer.statusCode, headers: answer.headers, body: parsed, text };
}

const errorOf = (answer: Answer) => (answer.body as { error: { code: string; message: string; details: Record<string, unknown> } }).error;

test('services publish, read and list through the REST API with API keys', async (t) => {
  const system = await startSystem(t, { mailer: true, gateways: 2, gatewayEnv: { API_KEY_RATE_PER_SECOND: '1000', API_KEY_BURST: '1000' } });
  const { sink } = system.mail!;
  const [g1, g2] = system.gateways;
  const port = g1!.port;

  const alice = await jsonRpcClient(g1!, undefined, t);
  const a = await register(alice, 'Alice');
  const bob = await socketIoClient(g2!, undefined, t);
  const b = await register(bob, 'Bob');
  b.email = b.email.toLowerCase();
  const mallory = await jsonRpcClient(g1!, undefined, t);
  await register(mallory, 'Mallory');

  const topic = await alice.call('topics.create', { name: `deploys-${Date.now()}` });
  await bob.call('topics.subscribe', { topicId: topic.id });
  const { secret: key } = await alice.call('apiKeys.create', { name: 'CI' });
  const { secret: malloryKey } = await mallory.call('apiKeys.create', { name: 'mallory' });
  let published = '';

  await t.test('a publication with a key reaches the subscriber over WebSocket and by email', async () => {
    const answer = await rest(port, 'POST', `/api/v1/topics/${topic.id}/notifications`, {
      key,
      body: { title: 'deploy 42 <done>', body: 'Production is on 42.', email: true },
      headers: { 'idempotency-key': 'deploy-42' },
    });
    assert.equal(answer.status, 201, answer.text);
    const { notification, recipients } = answer.body as { notification: { id: string; publisherId: string; topicId: string }; recipients: string[] };
    published = notification.id;
    assert.deepEqual(recipients, [b.id]);
    assert.equal(notification.publisherId, a.id);
    const pushed = await bob.next('notification', (n) => n.id === notification.id, 20_000);
    assert.equal(pushed.title, 'deploy 42 <done>');
    const mails = await sink.until((mail) => mail.some((m) => m.subject.includes('deploy 42 <done>')), 30_000);
    const mail = mails.find((m) => m.subject.includes('deploy 42 <done>'))!;
    assert.equal(mail.to[0], b.email);
    assert.match(mail.text, /Production is on 42\./);
  });

  await t.test('a publish repeated with its Idempotency-Key (on the other gateway) answers the first and creates nothing; other content under the key is 409', async () => {
    const again = await rest(g2!.port, 'POST', `/api/v1/topics/${topic.id}/notifications`, {
      key,
      body: { title: 'deploy 42 <done>', body: 'Production is on 42.', email: true },
      headers: { 'idempotency-key': 'deploy-42' },
    });
    assert.equal(again.status, 201, again.text);
    assert.equal((again.body as { notification: { id: string } }).notification.id, published);
    const reused = await rest(port, 'POST', `/api/v1/topics/${topic.id}/notifications`, { key, body: { title: 'deploy 43', body: '' }, headers: { 'idempotency-key': 'deploy-42' } });
    assert.equal(reused.status, 409, reused.text);
    assert.equal(errorOf(reused).details.reason, 'IDEMPOTENCY_KEY_REUSED');
    const feed = (await bob.call('notifications.list', { topicId: topic.id })).notifications;
    assert.deepEqual(feed.map((n) => n.id), [published], 'one notification');
  });

  await t.test('the publisher reads the notification with its status and every trace event', async () => {
    let answer: Answer | undefined;
    // Delivered events are recorded after the push: wait for them to show.
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      answer = await rest(port, 'GET', `/api/v1/notifications/${published}`, { key });
      assert.equal(answer.status, 200, answer.text);
      if ((answer.body as { status: string }).status === 'delivered') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const body = answer!.body as { notification: { id: string; recipients: number; acknowledged: number }; status: string; events: { type: string; recipientId: string | null }[] };
    assert.equal(body.notification.id, published);
    assert.equal(body.notification.recipients, 1);
    assert.equal(body.notification.acknowledged, 0);
    assert.equal(body.status, 'delivered');
    assert.equal((answer!.body as { traceId: unknown }).traceId, null, 'published with tracing off: no trace id');
    const types = body.events.map((event) => event.type);
    assert.ok(types.includes('prepared') && types.includes('committed') && types.includes('delivered'), types.join());

    await bob.call('notifications.ack', { notificationId: published });
    const acked = await rest(port, 'GET', `/api/v1/notifications/${published}`, { key });
    assert.equal((acked.body as { status: string }).status, 'acknowledged');
    assert.equal((acked.body as { notification: { acknowledged: number } }).notification.acknowledged, 1);
  });

  await t.test("another user's notification is 403 and an unknown one 404, never their content", async () => {
    const foreign = await rest(port, 'GET', `/api/v1/notifications/${published}`, { key: malloryKey });
    assert.equal(foreign.status, 403, foreign.text);
    assert.equal(errorOf(foreign).code, 'FORBIDDEN');
    assert.ok(!foreign.text.includes('deploy 42'));
    const unknown = await rest(port, 'GET', `/api/v1/notifications/${crypto.randomUUID()}`, { key });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(errorOf(unknown).code, 'NOT_FOUND');
  });

  await t.test('the key lists only its owner’s topics, each with its subscriber count', async () => {
    const second = await alice.call('topics.create', { name: `quiet-${Date.now()}` });
    await mallory.call('topics.create', { name: `mallory-${Date.now()}` });
    const answer = await rest(port, 'GET', '/api/v1/topics?limit=10', { key });
    assert.equal(answer.status, 200, answer.text);
    const { topics, nextCursor } = answer.body as { topics: { id: string; creatorId: string; subscriberCount: number }[]; nextCursor: string | null };
    assert.deepEqual(
      topics.map((item) => [item.id, item.subscriberCount]),
      [
        [second.id, 0],
        [topic.id, 1],
      ],
    );
    assert.equal(nextCursor, null);
    const paged = await rest(port, 'GET', '/api/v1/topics?limit=1', { key });
    const page = paged.body as { topics: { id: string }[]; nextCursor: string };
    assert.equal(page.topics.length, 1);
    const rest2 = await rest(port, 'GET', `/api/v1/topics?limit=1&cursor=${encodeURIComponent(page.nextCursor)}`, { key });
    assert.equal((rest2.body as { topics: { id: string }[] }).topics[0]!.id, topic.id);
  });

  await t.test("a key on another user's topic is 403 FORBIDDEN and publishes nothing", async () => {
    const answer = await rest(port, 'POST', `/api/v1/topics/${topic.id}/notifications`, { key: malloryKey, body: { title: 'spoofed', body: 'x' } });
    assert.equal(answer.status, 403, answer.text);
    assert.equal(errorOf(answer).code, 'FORBIDDEN');
    assert.deepEqual(Object.keys(answer.body as object), ['error']);
    assert.deepEqual(Object.keys(errorOf(answer)).sort(), ['code', 'details', 'message']);
    const feed = await bob.call('notifications.list', {});
    assert.ok(!feed.notifications.some((n) => n.title === 'spoofed'));
  });

  await t.test('no key, a malformed, unknown or forged key, or a session token: 401', async () => {
    const path = `/api/v1/topics/${topic.id}/notifications`;
    const body = { title: 't', body: 'b' };
    const forged = `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
    const unknown = `nk_${crypto.randomUUID().replaceAll('-', '')}_${'A'.repeat(43)}`;
    for (const [what, headers] of [
      ['no header', {}],
      ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['malformed', { authorization: 'Bearer nk_nope' }],
      ['unknown', { authorization: `Bearer ${unknown}` }],
      ['forged secret', { authorization: `Bearer ${forged}` }],
      ['session token', { authorization: `Bearer ${a.token}` }],
    ] as const) {
      const answer = await rest(port, 'POST', path, { body, headers });
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.equal(errorOf(answer).code, 'UNAUTHENTICATED', what);
      assert.match(String(answer.headers['www-authenticate']), /^Bearer/, what);
    }
  });

  await t.test('a revoked key is refused at once on every gateway', async () => {
    const { key: made, secret } = await alice.call('apiKeys.create', { name: 'short-lived' });
    for (const gateway of [g1!, g2!]) assert.equal((await rest(gateway.port, 'GET', '/api/v1/topics', { key: secret })).status, 200);
    await alice.call('apiKeys.revoke', { keyId: made.id });
    for (const gateway of [g1!, g2!]) {
      const answer = await rest(gateway.port, 'GET', '/api/v1/topics', { key: secret });
      assert.equal(answer.status, 401, answer.text);
      const publish = await rest(gateway.port, 'POST', `/api/v1/topics/${topic.id}/notifications`, { key: secret, body: { title: 'after revoke', body: '' } });
      assert.equal(publish.status, 401, publish.text);
    }
    // Through auth's other node as well: each gateway call may go to either.
    for (let i = 0; i < 6; i += 1) assert.equal((await rest(g2!.port, 'GET', '/api/v1/topics', { key: secret })).status, 401);
  });

  await t.test('past its rate a key gets 429 with Retry-After, and other keys are not held back', async () => {
    const limited = await system.startGateway({ API_KEY_RATE_PER_SECOND: '1', API_KEY_BURST: '3' });
    const { secret } = await alice.call('apiKeys.create', { name: 'bursty' });
    const statuses: number[] = [];
    let refused: Answer | undefined;
    for (let i = 0; i < 6; i += 1) {
      const answer = await rest(limited.port, 'GET', '/api/v1/topics', { key: secret });
      statuses.push(answer.status);
      if (answer.status === 429) refused = answer;
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(refused, `some answer is 429: ${statuses.join()}`);
    assert.equal(errorOf(refused).code, 'RATE_LIMITED');
    assert.equal(errorOf(refused).details.reason, 'api_key_rate');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After ${String(refused.headers['retry-after'])}`);
    assert.equal((await rest(limited.port, 'GET', '/api/v1/topics', { key: malloryKey })).status, 200, 'another key has its own bucket');
    // After Retry-After the key is served again.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    assert.equal((await rest(limited.port, 'GET', '/api/v1/topics', { key: secret })).status, 200);
  });

  await t.test('fuzzed input is a 4xx, never a 5xx, and changes nothing', async () => {
    const path = `/api/v1/topics/${topic.id}/notifications`;
    const before = (await bob.call('notifications.list', { limit: 100 })).notifications.length;
    const cases: [string, string, string, Parameters<typeof rest>[3]][] = [
      ['title is a number', 'POST', path, { key, body: { title: 5, body: 'b' } }],
      ['body missing', 'POST', path, { key, body: { title: 't' } }],
      ['extra field', 'POST', path, { key, body: { title: 't', body: 'b', topicId: topic.id } }],
      ['email is a string', 'POST', path, { key, body: { title: 't', body: 'b', email: 'yes' } }],
      ['to is not a list', 'POST', path, { key, body: { title: 't', body: 'b', to: 'everyone' } }],
      ['to names a stranger', 'POST', path, { key, body: { title: 't', body: 'b', to: [crypto.randomUUID()] } }],
      ['url is not a url', 'POST', path, { key, body: { title: 't', body: 'b', url: 'not a url' } }],
      ['NUL in the title', 'POST', path, { key, body: { title: 'a\u0000b', body: 'b' } }],
      ['lone surrogate in the body', 'POST', path, { key, rawBody: '{"title":"t","body":"\\ud800"}' }],
      ['body is an array', 'POST', path, { key, body: [1, 2] }],
      ['body is null', 'POST', path, { key, rawBody: 'null' }],
      ['not JSON', 'POST', path, { key, rawBody: '{"title":' }],
      ['text content type', 'POST', path, { key, rawBody: 'hello', headers: { 'content-type': 'text/plain' } }],
      ['2 MB body', 'POST', path, { key, body: { title: 't', body: 'x'.repeat(2 * 1024 * 1024) } }],
      ['title too long', 'POST', path, { key, body: { title: 'x'.repeat(201), body: 'b' } }],
      ['idempotency key with a space', 'POST', path, { key, body: { title: 't', body: 'b' }, headers: { 'idempotency-key': 'a b' } }],
      ['idempotency key too long', 'POST', path, { key, body: { title: 't', body: 'b' }, headers: { 'idempotency-key': 'k'.repeat(256) } }],
      ['forged topic id', 'POST', '/api/v1/topics/not-a-uuid/notifications', { key, body: { title: 't', body: 'b' } }],
      ['NUL in the topic id', 'POST', '/api/v1/topics/%00/notifications', { key, body: { title: 't', body: 'b' } }],
      ['surrogate in the topic id', 'POST', '/api/v1/topics/%ED%A0%80/notifications', { key, body: { title: 't', body: 'b' } }],
      ['unknown topic', 'POST', `/api/v1/topics/${crypto.randomUUID()}/notifications`, { key, body: { title: 't', body: 'b' } }],
      ['forged notification id', 'GET', '/api/v1/notifications/1%20OR%201=1', { key }],
      ['very long notification id', 'GET', `/api/v1/notifications/${'a'.repeat(900)}`, { key }],
      ['limit is a word', 'GET', '/api/v1/topics?limit=many', { key }],
      ['limit too large', 'GET', '/api/v1/topics?limit=1000', { key }],
      ['forged cursor', 'GET', '/api/v1/topics?cursor=Zm9yZ2Vk', { key }],
      ['unknown query key', 'GET', '/api/v1/topics?mine=false', { key }],
      ['NUL in the cursor', 'GET', '/api/v1/topics?cursor=%00', { key }],
      ['unknown route', 'GET', '/api/v1/nothing', { key }],
    ];
    for (const [what, method, target, options] of cases) {
      const answer = await rest(port, method, target, options);
      assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status} ${answer.text.slice(0, 300)}`);
      assert.ok(errorOf(answer)?.code, `${what}: an error body`);
    }
    assert.equal((await bob.call('notifications.list', { limit: 100 })).notifications.length, before, 'nothing was published');
  });

  await t.test('the OpenAPI document is valid OpenAPI 3.1, and the docs page shows every operation', async () => {
    const answer = await rest(port, 'GET', '/api/v1/openapi.json');
    assert.equal(answer.status, 200);
    const document = answer.body as { openapi: string; paths: Record<string, Record<string, { operationId: string }>>; components: { securitySchemes: Record<string, { scheme: string }> } };
    assert.equal(document.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors));
    assert.equal(document.components.securitySchemes.apiKey!.scheme, 'bearer');

    const page = await rest(port, 'GET', '/api/v1/docs');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.doesNotMatch(page.text, /<script|https?:\/\//, 'self-contained: no script, nothing fetched');
    for (const [path, methods] of Object.entries(document.paths)) {
      assert.ok(page.text.includes(path), path);
      for (const op of Object.values(methods)) assert.ok(page.text.includes(`id="${op.operationId}"`), op.operationId);
    }
  });

  await t.test('every operation in the OpenAPI document was exercised by these tests', async () => {
    const document = (await rest(port, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })));
    assert.ok(operations.length >= 3);
    for (const op of operations) {
      const pattern = new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      assert.ok(
        exercised.some((hit) => hit.method === op.method && pattern.test(hit.path)),
        `${op.method} ${op.path} was answered with a 2xx by some test`,
      );
    }
  });
});
