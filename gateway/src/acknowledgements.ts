// `notifications.ack`: the acknowledgement transaction, a few at a time (admission), then the
// user's new unread count for the answer.
import type { FastifyBaseLogger } from 'fastify';
import type { ConcurrencyLimiter, Coordinator } from '@notify/lib';
import type { RpcParams, RpcResults } from '@notify/lib/rpc';
import type { Session } from './connections.ts';
import type { CounterReads } from './counter-reads.ts';
import type { AcknowledgementTransaction } from './transactions/ack.ts';
import { refusalOf, settle } from './transactions/outcome.ts';

export class Acknowledgements {
  constructor(
    private readonly d: {
      transaction: AcknowledgementTransaction;
      coordinator: Coordinator;
      admission: ConcurrencyLimiter;
      counters: CounterReads;
      replyWaitMs: number;
      log: FastifyBaseLogger;
    },
  ) {}

  ack(session: Session, params: RpcParams<'notifications.ack'>): Promise<RpcResults['notifications.ack']> {
    return this.d.admission.run(() => this.ackNow(session, params));
  }

  private async ackNow(session: Session, { notificationId }: RpcParams<'notifications.ack'>): Promise<RpcResults['notifications.ack']> {
    const payload = { notificationId, userId: session.user.id };
    const tx = await this.d.coordinator.run(this.d.transaction, { persist: payload, counter: payload });
    if (!tx.committed) throw refusalOf(tx.votes);
    await settle(tx.done, this.d.replyWaitMs, this.d.log);
    // The ack is decided: from here on the answer says so, whatever happens to the count's read.
    return { ok: true, unread: await this.d.counters.read(session.user.id).catch((error: unknown) => this.unreadUnknown(error, session.user.id)) };
  }

  /** The count could not be read after a committed ack (counter down): null, and a `counter` push follows phase 2 when it can. */
  private unreadUnknown(error: unknown, userId: string): null {
    this.d.log.warn({ err: error, userId }, 'acknowledged, but the unread count could not be read for the answer');
    return null;
  }
}
