// Every client connection of this gateway instance, whichever transport, indexed by user and by
// session token, so a push reaches all of a user's connections and a logout all of a token's.
import { createError, REASON, type AppError } from '@notify/lib';
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
  /** Ends the connection from our side, telling the client why. */
  close(reason: string): void;
  /** Stops reading the client's messages (they wait in the socket) while its calls wait their turn. */
  pauseReading(): void;
  resumeReading(): void;
}

export interface ConnectionLimits {
  /** An anonymous connection has this long to log in (0: for ever). */
  authDeadlineMs?: number;
  /** Connections one remote address may hold at once. */
  maxPerAddress?: number;
  /** Connections one user may hold at once (on this instance). */
  maxPerUser?: number;
}

export class ConnectionRegistry {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byToken = new Map<string, Set<Connection>>();
  /** Connections per remote address. */
  private readonly byAddress = new Map<string, number>();
  /** Connections without a user, and when they will be closed unless they log in. */
  private readonly deadlines = new Map<Connection, NodeJS.Timeout>();
  private readonly options: Required<ConnectionLimits>;

  constructor(limits: ConnectionLimits = {}) {
    this.options = { authDeadlineMs: 0, maxPerAddress: Infinity, maxPerUser: Infinity, ...limits };
  }

  /** Whether a new connection from `address` would go past MAX_CONNECTIONS_PER_ADDRESS. */
  addressFull(address: string): boolean {
    return (this.byAddress.get(address) ?? 0) >= this.options.maxPerAddress;
  }

  /** Whether giving one more connection (not `connection` itself) to `userId` would go past MAX_CONNECTIONS_PER_USER. */
  userFull(userId: string, connection?: Connection): boolean {
    const held = this.byUser.get(userId);
    const others = (held?.size ?? 0) - (connection && held?.has(connection) ? 1 : 0);
    return others >= this.options.maxPerUser;
  }

  /** The refusal of a connection past MAX_CONNECTIONS_PER_ADDRESS. */
  tooManyFromAddress(): AppError {
    return createError({ code: 'RATE_LIMITED', message: 'too many connections from this address; close one first', details: { retryAfterSeconds: 1, reason: REASON.CONNECTIONS_PER_ADDRESS } });
  }

  /** The refusal of a login (or handshake token) for a user who already holds MAX_CONNECTIONS_PER_USER connections here. */
  tooManyForUser(): AppError {
    return createError({ code: 'RATE_LIMITED', message: `at most ${this.options.maxPerUser} connections per user; close one first`, details: { retryAfterSeconds: 1, reason: REASON.CONNECTIONS_PER_USER } });
  }

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
    this.byAddress.set(connection.remoteAddress, (this.byAddress.get(connection.remoteAddress) ?? 0) + 1);
    this.armDeadline(connection);
  }

  remove(connection: Connection): void {
    if (!this.all.delete(connection)) return;
    const left = (this.byAddress.get(connection.remoteAddress) ?? 1) - 1;
    if (left > 0) this.byAddress.set(connection.remoteAddress, left);
    else this.byAddress.delete(connection.remoteAddress);
    this.setSession(connection, undefined);
    this.disarmDeadline(connection);
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
    // A connection without a user (new, or logged out) must log in in time; one with a user need not.
    if (session) this.disarmDeadline(connection);
    else this.armDeadline(connection);
  }

  private armDeadline(connection: Connection): void {
    const ms = this.options.authDeadlineMs;
    if (ms <= 0 || connection.session || this.deadlines.has(connection) || !this.all.has(connection)) return;
    const timer = setTimeout(() => {
      this.deadlines.delete(connection);
      if (!connection.session && this.all.has(connection)) connection.close(`log in within ${ms / 1000} s of connecting (or of logging out)`);
    }, ms);
    timer.unref();
    this.deadlines.set(connection, timer);
  }

  private disarmDeadline(connection: Connection): void {
    clearTimeout(this.deadlines.get(connection));
    this.deadlines.delete(connection);
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
