// A fake client connection for in-process gateway tests: what a transport would write to its
// socket (pushes, the close reason) is kept in arrays, and reading can be paused as a socket's.
import { randomUUID } from 'node:crypto';
import type { PushEvent, PushEvents } from '@notify/lib/rpc';
import type { Connection, Session, Transport } from '../../src/connections.ts';
import { hashToken } from '../../src/sessions.ts';

export interface FakeConnection extends Connection {
  /** Every push the connection was sent, in order. */
  readonly pushes: { event: PushEvent; data: unknown }[];
  /** Reasons it was closed with. */
  readonly closed: string[];
  /** Whether reading is paused now. */
  readonly paused: boolean;
  /** The pushes of one event. */
  pushed<E extends PushEvent>(event: E): PushEvents[E][];
}

export function fakeConnection(options: { transport?: Transport; remoteAddress?: string } = {}): FakeConnection {
  const pushes: { event: PushEvent; data: unknown }[] = [];
  const closed: string[] = [];
  let paused = false;
  return {
    id: randomUUID(),
    transport: options.transport ?? 'jsonrpc',
    remoteAddress: options.remoteAddress ?? '192.0.2.1',
    session: undefined,
    inflight: 0,
    pushes,
    closed,
    get paused() {
      return paused;
    },
    push(event, data) {
      pushes.push({ event, data });
    },
    close(reason) {
      closed.push(reason);
    },
    pauseReading() {
      paused = true;
    },
    resumeReading() {
      paused = false;
    },
    pushed<E extends PushEvent>(event: E) {
      return pushes.filter((push) => push.event === event).map((push) => push.data as PushEvents[E]);
    },
  };
}

/** A session of `userId` as auth would have opened it (token made up, its hash as the gateway keeps it). */
export function sessionOf(userId: string, token = `token-of-${userId}-${randomUUID()}`): Session {
  return { token, tokenHash: hashToken(token), user: { id: userId, email: `${userId}@example.test`, name: userId, avatarUrl: `/avatars/${userId}.png` } };
}
