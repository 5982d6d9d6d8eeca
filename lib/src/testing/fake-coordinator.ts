// Test double of the two-phase-commit coordinator's one participant-facing route
// (`GET /api/2pc/:txId`), registered in discovery under the coordinator's name, so participants'
// sweepers can be tested before (and apart from) the gateway. Decisions are set by the test.
import type { TestContext } from 'node:test';
import { z } from 'zod';
import { baseConfigShape, loadConfig } from '../config.ts';
import { createService, type Service } from '../service/create-service.ts';
import { TEST_DISCOVERY_TOKEN, TEST_SERVICE_SECRET } from './service-identity.ts';

export interface FakeCoordinator {
  service: Service;
  /** Records the coordinator's answer for `txId`; transactions never decided answer 404 (no record). */
  decide(txId: string, state: 'pending' | 'committed' | 'aborted'): void;
  /** How many times participants asked about `txId`. */
  asked(txId: string): number;
}

export async function startFakeCoordinator(t: TestContext, discoveryUrl: string, name = 'gateway'): Promise<FakeCoordinator> {
  const config = loadConfig(z.object(baseConfigShape({ port: 0 })), {
    HOST: '127.0.0.1',
    PORT: '0',
    SERVICE_SECRET: TEST_SERVICE_SECRET,
    DISCOVERY_URL: discoveryUrl,
    DISCOVERY_TOKEN: TEST_DISCOVERY_TOKEN,
    LOG_LEVEL: 'warn',
    DRAIN_DELAY_MS: '0',
  });
  const service = createService({ name, config });
  const decisions = new Map<string, 'pending' | 'committed' | 'aborted'>();
  const questions = new Map<string, number>();
  service.app.get<{ Params: { txId: string } }>('/api/2pc/:txId', { config: { callers: ['persist', 'counter'] } }, async (request, reply) => {
    const { txId } = request.params;
    questions.set(txId, (questions.get(txId) ?? 0) + 1);
    const state = decisions.get(txId);
    // The coordinator's "no record": a 404 naming the transaction (a bare 404 is no answer).
    if (!state) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no record of ${txId}`, details: { txId } } });
    return { txId, state };
  });
  await service.listen();
  t.after(() => service.close('test over'));
  return {
    service,
    decide: (txId, state) => void decisions.set(txId, state),
    asked: (txId) => questions.get(txId) ?? 0,
  };
}
