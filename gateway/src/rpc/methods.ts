// The one method table both transports serve: each contract method as a handler of validated
// params. Reads and writes go to the owning service; publications and acks are two-phase commits.
import type { z } from 'zod';
import type { RPC_PARAMS, RpcMethod, RpcResults, Subscription, Topic } from '@notify/lib/rpc';
import type { Connection, ConnectionRegistry, Session } from '../connections.ts';
import type { BusMessage } from '../push/fanout.ts';
import type { Sessions } from '../sessions.ts';
import type { Transactions } from '../transactions.ts';
import type { Upstreams } from '../upstreams.ts';

export interface CallContext {
  connection: Connection;
  /** The connection's session when the call arrived; defined for every method but register and login. */
  session: Session | undefined;
}

export type Handler<M extends RpcMethod> = (params: z.output<(typeof RPC_PARAMS)[M]>, context: CallContext & { session: Session }) => Promise<RpcResults[M]>;
export type PublicHandler<M extends RpcMethod> = (params: z.output<(typeof RPC_PARAMS)[M]>, context: CallContext) => Promise<RpcResults[M]>;
export type MethodTable = { [M in 'users.register' | 'users.login']: PublicHandler<M> } & { [M in Exclude<RpcMethod, 'users.register' | 'users.login'>]: Handler<M> };

interface Dependencies {
  upstreams: Upstreams;
  sessions: Sessions;
  connections: ConnectionRegistry;
  transactions: Transactions;
  publish: (message: BusMessage) => Promise<void>;
}

export function methodTable(d: Dependencies): MethodTable {
  const persist = <T>(method: 'GET' | 'POST' | 'DELETE', path: string, session: Session, idempotent: boolean, body?: unknown) =>
    d.upstreams.call<T>('persist', { method, path, userId: session.user.id, idempotent, body });

  /** Gives the connection its user and answers as register and login do. */
  const opened = async (connection: Connection, session: Session) => {
    if (d.connections.userFull(session.user.id, connection)) {
      // The session auth just opened is never handed out: revoke it rather than leave it behind.
      await d.sessions.logout(session).catch(() => undefined);
      throw d.connections.tooManyForUser();
    }
    d.connections.setSession(connection, session);
    return { user: session.user, token: session.token };
  };

  return {
    'users.register': async (params, { connection }) => opened(connection, await d.sessions.register(params, connection.remoteAddress)),
    'users.login': async (params, { connection }) => opened(connection, await d.sessions.login(params, connection.remoteAddress)),
    'users.logout': async (_params, { session }) => {
      await d.sessions.logout(session);
      // Every connection of this token, on every gateway, loses its user now.
      await d.publish({ kind: 'logout', tokenHash: session.tokenHash });
      return { ok: true };
    },
    'users.me': async (_params, { session }) => session.user,

    'topics.create': async (params, { session }) => persist<Topic>('POST', '/api/topics', session, false, params),
    'topics.list': async (params, { session }) => persist('GET', `/api/topics?${queryOf(params)}`, session, true),
    'topics.delete': async ({ topicId }, { session }) => {
      const answer = await persist<{ ok: true }>('DELETE', `/api/topics/${topicId}`, session, false);
      await d.publish({ kind: 'subscribers-changed', topicId });
      return answer;
    },
    'topics.subscribe': async ({ topicId }, { session }) => {
      // Subscribing twice answers the existing subscription, so a retry is safe.
      const subscription = await persist<Subscription>('POST', `/api/topics/${topicId}/subscriptions`, session, true);
      await d.publish({ kind: 'subscribers-changed', topicId });
      return subscription;
    },
    'topics.unsubscribe': async ({ topicId }, { session }) => {
      const answer = await persist<{ ok: true }>('DELETE', `/api/topics/${topicId}/subscriptions`, session, false);
      await d.publish({ kind: 'subscribers-changed', topicId });
      return answer;
    },

    'notifications.publish': async (params, { session }) => d.transactions.publish(session, params),
    'notifications.list': async (params, { session }) =>
      persist('GET', `/api/users/${encodeURIComponent(session.user.id)}/notifications?${queryOf(params)}`, session, true),
    'notifications.ack': async (params, { session }) => d.transactions.ack(session, params),
    'notifications.trace': async ({ notificationId }, { session }) => persist('GET', `/api/notifications/${notificationId}/trace`, session, true),
    'counters.get': async (_params, { session }) => ({ unread: await d.transactions.unread(session.user.id) }),
  };
}

/** A list method's params as persist's query string (booleans and numbers as text; unset keys left out). */
function queryOf(params: Record<string, string | number | boolean | undefined>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, String(value));
  return query;
}
