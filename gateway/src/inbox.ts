// `notifications.readAll` and `notifications.archive`: changes to a user's inbox that move their
// unread count, each one two-phase commit across persist and counter (a few at a time, admission),
// then the user's new unread count for the answer.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { AppError, ConcurrencyLimiter, Coordinator } from '@notify/lib';
import type { RpcParams, RpcResults } from '@notify/lib/rpc';
import type { Session } from './connections.ts';
import type { CounterReads } from './counter-reads.ts';
import type { Upstreams } from './upstreams.ts';
import type { AcknowledgementTransaction } from './transactions/ack.ts';
import { refusalOf, settle } from './transactions/outcome.ts';
import type { ReadAllTransaction } from './transactions/read-all.ts';

/** Tries of one mark-all-read whose deliveries keep changing between the count and the prepare. */
const READ_ALL_ATTEMPTS = 8;
/** Tries of one archive whose notification is being acknowledged meanwhile. */
const ARCHIVE_ATTEMPTS = 3;

/**
 * The pause (ms) before try `attempt + 1`: what raced the last one (an acknowledgement, a
 * publication) is usually in its phase 2 for a few milliseconds more. Jittered, at most 200 ms.
 */
const backoffMs = (attempt: number) => Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random() / 2);

export class Inbox {
  constructor(
    private readonly d: {
      readAll: ReadAllTransaction;
      acknowledgement: AcknowledgementTransaction;
      coordinator: Coordinator;
      admission: ConcurrencyLimiter;
      counters: CounterReads;
      upstreams: Pick<Upstreams, 'persist'>;
      replyWaitMs: number;
      log: FastifyBaseLogger;
    },
  ) {}

  readAll(session: Session, params: RpcParams<'notifications.readAll'>): Promise<RpcResults['notifications.readAll']> {
    return this.d.admission.run(() => this.readAllNow(session, params));
  }

  /**
   * Counts the unread deliveries (persist answers the number and the cut-off it is of), then marks
   * exactly that many read in one transaction: persist claims every unread delivery up to the
   * cut-off and votes no unless it finds that number, and counter takes that same number off. So
   * the count moves by exactly what is marked, whatever publishes and acknowledgements race it:
   * one that changes the set in between aborts the transaction, and it is counted again. (Counter
   * checks the number against its count less every decrement staged, so an acknowledgement racing
   * the call may abort it too, or be refused while it is prepared; either is tried again.)
   */
  private async readAllNow(session: Session, { topicId }: RpcParams<'notifications.readAll'>): Promise<RpcResults['notifications.readAll']> {
    const userId = session.user.id;
    for (let attempt = 1; ; attempt += 1) {
      const { unread: expected, cutoff } = await this.d.upstreams.persist.countUnread({ params: { userId }, query: { topicId } }, { user: userId });
      if (expected === 0) return { ok: true, marked: 0, unread: await this.unreadNow(userId) };
      const persist = { userId, ...(topicId ? { topicId } : {}), cutoff, expected };
      const tx = await this.d.coordinator.run(this.d.readAll, { persist, counter: { userId, count: expected } });
      if (tx.committed) {
        await settle(tx.done, this.d.replyWaitMs, this.d.log);
        return { ok: true, marked: expected, unread: await this.unreadNow(userId) };
      }
      const refusal = refusalOf(tx.votes);
      if (attempt >= READ_ALL_ATTEMPTS || !changedMeanwhile(refusal)) throw refusal;
      this.d.log.debug({ userId, attempt, details: refusal.details }, 'marking all read raced another change; counting again');
      await sleep(backoffMs(attempt));
    }
  }

  archive(session: Session, params: RpcParams<'notifications.archive'>): Promise<RpcResults['notifications.archive']> {
    return this.d.admission.run(() => this.archiveNow(session, params));
  }

  /**
   * Unarchiving, or archiving a read notification, is one write at persist. Archiving an unread one
   * is an acknowledgement that also archives (persist and counter together), so it is read and
   * counted off at once; if another acknowledgement of it is under way, it is tried again.
   */
  private async archiveNow(session: Session, { notificationId, archived = true }: RpcParams<'notifications.archive'>): Promise<RpcResults['notifications.archive']> {
    const userId = session.user.id;
    for (let attempt = 1; ; attempt += 1) {
      const answer = await this.d.upstreams.persist.setArchived({ params: { id: notificationId }, body: { archived } }, { user: userId });
      if (answer.archived === archived) return { ok: true, unread: await this.unreadNow(userId) };
      const payload = { notificationId, userId };
      const tx = await this.d.coordinator.run(this.d.acknowledgement, { persist: { ...payload, archive: true }, counter: payload });
      if (tx.committed) {
        await settle(tx.done, this.d.replyWaitMs, this.d.log);
        return { ok: true, unread: await this.unreadNow(userId) };
      }
      const refusal = refusalOf(tx.votes);
      if (attempt >= ARCHIVE_ATTEMPTS || !changedMeanwhile(refusal)) throw refusal;
      await sleep(backoffMs(attempt));
    }
  }

  /** The user's count after a decided change; null if it cannot be read now (a `counter` push follows the commit). */
  private async unreadNow(userId: string): Promise<number | null> {
    try {
      return await this.d.counters.read(userId);
    } catch (error) {
      this.d.log.warn({ err: error, userId }, 'the inbox changed, but the unread count could not be read for the answer');
      return null;
    }
  }
}

/**
 * A participant's CONFLICT: the deliveries changed between the read and the prepare (a publication,
 * an acknowledgement), or counter holds decrements of acknowledgements racing this one (staged,
 * still counted against what is left, until they are decided); read again and retry.
 */
function changedMeanwhile(refusal: AppError): boolean {
  return refusal.code === 'CONFLICT' && (refusal.details.participant === 'persist' || refusal.details.participant === 'counter');
}
