// Writes that reach the Consul routes after the registry closed (as the service's close begins)
// get 503 with a text message, not a 500; reads still answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Acl } from '../src/acl/index.ts';
import { Registry } from '../src/registry/index.ts';
import { consulApi } from '../src/routes/index.ts';

test('writes during shutdown get 503 text/plain; reads still answer', async (t) => {
  const registry = new Registry({ datacenter: 'dc1', nodeName: 'node-a', nodeAddress: '127.0.0.1' });
  const app = Fastify();
  await app.register(consulApi, { registry, acl: new Acl({ enabled: false, defaultPolicy: 'deny', tokens: [] }) });
  t.after(() => app.close());

  const put = (url: string, payload?: string) => app.inject({ method: 'PUT', url, ...(payload === undefined ? {} : { payload }) });
  assert.equal((await put('/v1/agent/service/register', '{"ID": "api-1", "Name": "api", "Check": {"TTL": "30s"}}')).statusCode, 200);

  registry.close(); // what the service's drain step does
  const writes = [
    put('/v1/agent/service/register', '{"ID": "api-2", "Name": "api"}'),
    put('/v1/agent/service/deregister/api-1'),
    put('/v1/agent/check/pass/service:api-1'),
    put('/v1/agent/check/update/service:api-1', '{"Status": "passing"}'),
  ];
  for (const response of await Promise.all(writes)) {
    assert.equal(response.statusCode, 503, `${response.statusCode} ${response.body}`);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.equal(response.body, 'Registry is shutting down');
  }

  const services = await app.inject({ method: 'GET', url: '/v1/agent/services' });
  assert.equal(services.statusCode, 200);
  assert.deepEqual(Object.keys(services.json() as object), ['api-1'], 'nothing changed');
});
