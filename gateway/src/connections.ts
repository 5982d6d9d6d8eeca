// Every client connection of this gateway instance, whichever transport, indexed by user and by
// session token, so a push reaches all of a user's connections and a logout all of a token's.
import type { PushEvent, PushEvents, User } from '@notify/lib/rpc';

export type Transport = 'socket.io' | 'jsonrpc';

export interface Session {
  token: string;
  /** SHA-256 of the token: what crosses the push bus (never the token itself). */
  tokenHash: string;
  user: User;
}

/** One client connection; transports implement `send` and `close`. */
export interface Connection {
  readonly id: string;
  readonly transport: Transport;
  readonly remoteAddress: string;
  session: Session | undefined;
  /** Calls received and not yet answered. */
  inflight: number;
  push<E extends PushEvent>(event: E, data: PushEvents[E]): void;
}

export class ConnectionRegistry {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byToken = new Map<string, Set<Connection>>();

  get size(): number {
    return this.all.size;
  }

  countBy(transport: Transport): number {
    let n = 0;
    for (const connection of this.all) if (connection.transport === transport) n += 1;
    return n;
  }

  add(connection: Connection): void {
    this.all.add(connection);
  }

  remove(connection: Connection): void {
    this.all.delete(connection);
    this.setSession(connection, undefined);
  }

  /** Gives `connection` a user (login, register, handshake token) or takes it away (undefined). */
  setSession(connection: Connection, session: Session | undefined): void {
    const previous = connection.session;
    if (previous) {
      unindex(this.byUser, previous.user.id, connection);
      unindex(this.byToken, previous.tokenHash, connection);
    }
    connection.session = session;
    if (session && this.all.has(connection)) {
      index(this.byUser, session.user.id, connection);
      index(this.byToken, session.tokenHash, connection);
    }
  }

  ofUser(userId: string): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  /** Sends one push to every connection of a user; answers how many got it. */
  pushTo<E extends PushEvent>(userId: string, event: E, data: PushEvents[E]): number {
    const connections = this.ofUser(userId);
    for (const connection of connections) connection.push(event, data);
    return connections.size;
  }

  /** Takes the user away from every connection of a token (a logout) and tells each one. */
  endSessions(tokenHash: string, reason: string): number {
    const connections = [...(this.byToken.get(tokenHash) ?? [])];
    for (const connection of connections) {
      this.setSession(connection, undefined);
      connection.push('session.ended', { reason });
    }
    return connections.length;
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

function index(map: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(connection);
}

function unindex(map: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(connection);
  if (set.size === 0) map.delete(key);
}
