// Test helpers for the kit: config for a service on a free port, and a log sink to assert on.
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { z } from 'zod';
import { baseConfigShape, loadConfig, type BaseConfig } from '../src/config.ts';
import { TEST_DISCOVERY_TOKEN, TEST_SERVICE_SECRET } from '../src/testing/service-identity.ts';
import { createService, type Service, type ServiceOptions } from '../src/service/create-service.ts';

export function testConfig(overrides: Record<string, string> = {}): BaseConfig {
  return loadConfig(z.object(baseConfigShape({ port: 0 })), {
    HOST: '127.0.0.1',
    PORT: '0',
    SERVICE_SECRET: TEST_SERVICE_SECRET,
    DISCOVERY_TOKEN: TEST_DISCOVERY_TOKEN,
    DISCOVERY_REGISTER: 'false',
    LOG_LEVEL: 'warn',
    ...overrides,
  });
}

/** Captured log lines, parsed. */
export class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString().split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

/** A kit service on a free port, closed after the test. */
export async function startService(
  t: TestContext,
  options: Partial<ServiceOptions> & { configure?: (service: Service) => void } = {},
): Promise<{ service: Service; url: string }> {
  // Open to anyone unless the test says otherwise: these tests are about other things than callers.
  const service = createService({ name: 'sample', config: testConfig(), defaultCallers: 'public', ...options });
  options.configure?.(service);
  const { port } = await service.listen();
  t.after(() => service.close('test over'));
  return { service, url: `http://127.0.0.1:${port}` };
}
