// The one method table both transports serve: each contract method as a handler of validated
// params. Reads and writes go to the owning service (API keys: auth); publications, acks, marking
// all read and archiving an unread notification are two-phase commits.
import type { z } from 'zod';
import type { RPC_PARAMS, RpcMethod, RpcResults } from '@notify/lib/rpc';
import type { Connection, ConnectionRegistry, Session } from '../connections.ts';
import type { BusMessage } from '../push/fanout.ts';
import type { Sessions } from '../sessions.ts';
import type { CounterReads } from '../counter-reads.ts';
import type { Acknowledgements } from '../acknowledgements.ts';
import type { AvatarVersions } from '../avatars.ts';
import type { Inbox } from '../inbox.ts';
import type { Publications } from '../publications.ts';
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
  upstreams: Pick<Upstreams, 'persist' | 'auth'>;
  sessions: Sessions;
  connections: ConnectionRegistry;
  publications: Publications;
  acknowledgements: Acknowledgements;
  inbox: Inbox;
  counters: CounterReads;
  publish: (message: BusMessage) => Promise<void>;
  /** Avatar URLs with their versions: the user's own, and each notification's publisher's. */
  avatars: Pick<AvatarVersions, 'url' | 'withPublisherAvatars'>;
  /** TRACE_VIEW_URL: where a trace is seen, a URL with `{traceId}`; unset: no traceUrl. */
  traceViewUrl?: string | undefined;
}

/** TRACE_VIEW_URL with the trace id in it; null without either. */
export function traceUrl(template: string | undefined, traceId: string | null): string | null {
  return template && traceId ? template.replaceAll('{traceId}', encodeURIComponent(traceId)) : null;
}

export function methodTable(d: Dependencies): MethodTable {
  const persist = d.upstreams.persist;
  const auth = d.upstreams.auth;
  /** auth acts for the owner of the session token (API keys are managed with a session, never with a key). */
  const bearer = (session: Session) => ({ headers: { authorization: `Bearer ${session.token}` } });
  /** Persist acts for the connection's user, named in the signed credential. */
  const as = (session: Session) => ({ user: session.user.id });

  /** The session's user with their avatar URL as it is now (an upload since the login changes it). */
  const withAvatar = async (session: Session) => ({ ...session.user, avatarUrl: await d.avatars.url(session.user.id) });

  /** Gives the connection its user and answers as register and login do. */
  const opened = async (connection: Connection, session: Session) => {
    if (d.connections.userFull(session.user.id, connection)) {
      // The session auth just opened is never handed out: revoke it rather than leave it behind.
      await d.sessions.logout(session).catch(() => undefined);
      throw d.connections.tooManyForUser();
    }
    d.connections.setSession(connection, session);
    return { user: await withAvatar(session), token: session.token };
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
    'users.me': async (_params, { session }) => withAvatar(session),

    // Names are kept where they were known: the creator's with the topic, a subscriber's with the subscription.
    'topics.create': async (params, { session }) => persist.createTopic({ body: { ...params, creatorName: session.user.name } }, as(session)),
    'topics.list': async (params, { session }) => persist.listTopics({ query: params }, as(session)),
    'topics.get': async ({ topicId }, { session }) => persist.getTopic({ params: { id: topicId } }, as(session)),
    'topics.subscribers': async ({ topicId, ...page }, { session }) => persist.listSubscriberNames({ params: { id: topicId }, query: page }, as(session)),
    'topics.delete': async ({ topicId }, { session }) => {
      const answer = await persist.deleteTopic({ params: { id: topicId } }, as(session));
      await d.publish({ kind: 'subscribers-changed', topicId });
      return answer;
    },
    'topics.subscribe': async ({ topicId }, { session }) => {
      const subscription = await persist.subscribe({ params: { id: topicId }, body: { name: session.user.name } }, as(session));
      await d.publish({ kind: 'subscribers-changed', topicId });
      return subscription;
    },
    'topics.unsubscribe': async ({ topicId }, { session }) => {
      const answer = await persist.unsubscribe({ params: { id: topicId } }, as(session));
      await d.publish({ kind: 'subscribers-changed', topicId });
      return answer;
    },
    // Preferences: a topic's change reaches every gateway's cached audience at once; a global email
    // switch is caught by persist's check of the next publication (which then reads again).
    'topics.preferences': async ({ topicId, ...change }, { session }) => {
      const subscription = await persist.setSubscriptionPreferences({ params: { id: topicId }, body: change }, as(session));
      await d.publish({ kind: 'subscribers-changed', topicId });
      return subscription;
    },
    'preferences.get': async (_params, { session }) => persist.getUserPreferences({}, as(session)),
    'preferences.set': async (params, { session }) => persist.setUserPreferences({ body: params }, as(session)),

    'notifications.publish': async (params, { session }) => d.publications.publish(session, params),
    'notifications.list': async (params, { session }) => {
      const { notifications, nextCursor } = await persist.listNotifications({ params: { userId: session.user.id }, query: params }, as(session));
      return { notifications: await d.avatars.withPublisherAvatars(notifications), nextCursor };
    },
    'notifications.ack': async (params, { session }) => d.acknowledgements.ack(session, params),
    'notifications.readAll': async (params, { session }) => d.inbox.readAll(session, params),
    'notifications.archive': async (params, { session }) => d.inbox.archive(session, params),
    'notifications.trace': async ({ notificationId }, { session }) => {
      const trace = await persist.traceNotification({ params: { id: notificationId } }, as(session));
      return { notificationId: trace.notificationId, traceId: trace.traceId, traceUrl: traceUrl(d.traceViewUrl, trace.traceId), events: trace.events };
    },
    'counters.get': async (_params, { session }) => ({ unread: await d.counters.read(session.user.id) }),

    'apiKeys.create': async (params, { session }) => auth.createApiKey({ body: params }, bearer(session)),
    'apiKeys.list': async (_params, { session }) => auth.listApiKeys({}, bearer(session)),
    'apiKeys.revoke': async ({ keyId }, { session }) => auth.revokeApiKey({ params: { id: keyId } }, bearer(session)),
  };
}
