// The typed socket.io wrapper: `call(method, params)` against the contract's types, the connection's
// state (connecting, connected, reconnecting, offline) with the browser's online/offline events,
// push subscriptions, and a "reconnected" signal so the app can catch up on what it missed.
import { io, type Socket } from 'socket.io-client';
import type { AckReply, PushEvent, PushEvents, RpcError, RpcMethod, RpcParams, RpcResults } from '@notify/lib/rpc';
import { RpcCallError } from './errors.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnectionSnapshot {
  state: ConnectionState;
  /** When the state last changed (ms since epoch). */
  since: number;
  /** socket.io's reconnect attempt, while reconnecting. */
  attempt: number;
  /** Why the last connection attempt failed, in plain words, if it did. */
  problem: string | null;
}

/** Events the gateway sends this client: the contract's pushes and failed ack-less calls. */
type ServerEvents = { [E in PushEvent]: (data: PushEvents[E]) => void } & {
  'rpc.error': (data: { method: string | null; error: RpcError }) => void;
};

/** What this client emits: every contract method with its params and an ack for its reply. */
type ClientEvents = { [M in RpcMethod]: (params: RpcParams<M>, ack: (reply: AckReply<M>) => void) => void };

/** `socket.timeout(ms)` for one method: the ack gets a timeout error first, then the reply. */
interface TimedEmitter<M extends RpcMethod> {
  emit(method: M, params: RpcParams<M>, ack: (timedOut: Error | null, reply: AckReply<M>) => void): void;
}

const CALL_TIMEOUT_MS = 15_000;
const CONNECT_WAIT_MS = 8_000;

export class RpcClient {
  private readonly socket: Socket<ServerEvents, ClientEvents>;
  private snapshot: ConnectionSnapshot = { state: 'connecting', since: Date.now(), attempt: 0, problem: null };
  private readonly stateListeners = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly refusedListeners = new Set<(error: RpcError) => void>();
  private sessionToken: string | null;
  private connectedOnce = false;
  private browserOffline = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Calls sent and not answered yet: failed at once when the connection drops (their acks never come). */
  private readonly unanswered = new Set<(error: RpcError) => void>();

  constructor(
    readonly gatewayUrl: string,
    token: string | null,
  ) {
    this.sessionToken = token;
    this.socket = io(gatewayUrl, {
      path: '/socket.io/',
      transports: ['websocket'],
      auth: token ? { token } : {},
      autoConnect: false,
      reconnectionDelay: 500,
      reconnectionDelayMax: 4_000,
      randomizationFactor: 0.3,
    });
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('disconnect', (reason) => this.onDisconnect(reason));
    this.socket.on('connect_error', (error) => this.onConnectError(error));
    this.socket.io.on('reconnect_attempt', (attempt) => {
      if (!this.browserOffline) this.setState(this.connectedOnce ? 'reconnecting' : 'connecting', { attempt });
    });
    window.addEventListener('offline', this.goOffline);
    window.addEventListener('online', this.goOnline);
  }

  /** Opens the connection (or notes that the browser is offline). */
  start(): void {
    if (navigator.onLine === false) this.goOffline();
    else this.socket.connect();
  }

  close(): void {
    clearTimeout(this.retryTimer);
    window.removeEventListener('offline', this.goOffline);
    window.removeEventListener('online', this.goOnline);
    this.socket.disconnect();
  }

  /** The token the next handshake carries (reconnects included); null for none. */
  setToken(token: string | null): void {
    this.sessionToken = token;
    this.socket.auth = token ? { token } : {};
  }

  /** The session token of this page (the bearer of the gateway's HTTP operations for this user), or null. */
  get token(): string | null {
    return this.sessionToken;
  }

  /** Calls one contract method; rejects with an RpcCallError (the gateway's, or TIMEOUT/UNAVAILABLE from here). */
  async call<M extends RpcMethod>(method: M, params: RpcParams<M>, timeoutMs = CALL_TIMEOUT_MS): Promise<RpcResults[M]> {
    await this.whenConnected(method);
    return new Promise<RpcResults[M]>((resolve, reject) => {
      // socket.io's types cannot index ClientEvents by a generic M; this is the same signature, resolved.
      const emitter = this.socket.timeout(timeoutMs) as unknown as TimedEmitter<M>;
      const fail = (error: RpcError) => reject(new RpcCallError(error, method));
      this.unanswered.add(fail);
      emitter.emit(method, params, (timedOut, reply) => {
        this.unanswered.delete(fail);
        if (timedOut) reject(new RpcCallError({ code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms` }, method));
        else if ('error' in reply) reject(new RpcCallError(reply.error, method));
        else resolve(reply.result);
      });
    });
  }

  /** Subscribes to a push; returns the unsubscribe function. */
  on<E extends PushEvent>(event: E, handler: (data: PushEvents[E]) => void): () => void {
    const listener = handler as (...args: unknown[]) => void;
    const untyped = this.socket as unknown as Socket;
    untyped.on(event as string, listener);
    return () => {
      untyped.off(event as string, listener);
    };
  }

  /** Called after every reconnect (not the first connect): the moment to catch up. */
  onReconnected(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Called when the gateway refuses the handshake token (expired or revoked session). */
  onTokenRefused(listener: (error: RpcError) => void): () => void {
    this.refusedListeners.add(listener);
    return () => this.refusedListeners.delete(listener);
  }

  // useSyncExternalStore's pair.
  readonly subscribe = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };
  readonly getSnapshot = (): ConnectionSnapshot => this.snapshot;

  private setState(state: ConnectionState, changes: Partial<Omit<ConnectionSnapshot, 'state'>> = {}): void {
    const next = { ...this.snapshot, ...changes, state, since: state === this.snapshot.state ? this.snapshot.since : Date.now() };
    if (next.state === this.snapshot.state && next.attempt === this.snapshot.attempt && next.problem === this.snapshot.problem) return;
    this.snapshot = next;
    for (const listener of this.stateListeners) listener();
  }

  private onConnect(): void {
    const again = this.connectedOnce;
    this.connectedOnce = true;
    this.setState('connected', { attempt: 0, problem: null });
    if (again) for (const listener of this.reconnectListeners) listener();
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    for (const fail of this.unanswered) fail({ code: 'UNAVAILABLE', message: `connection lost before the answer (${reason})`, details: { connectionLost: true } });
    this.unanswered.clear();
    if (this.browserOffline) return this.setState('offline');
    if (reason === 'io client disconnect') return;
    this.setState('reconnecting', { problem: reason === 'io server disconnect' ? 'The server closed the connection.' : 'The connection dropped.' });
    // socket.io reconnects by itself after a dropped transport, not after the server's own disconnect.
    if (reason === 'io server disconnect') this.retryLater(500);
  }

  private onConnectError(error: Error & { data?: unknown }): void {
    if (this.browserOffline) return;
    const refusal = error.data as Partial<RpcError> | undefined;
    if (refusal?.code === 'UNAUTHENTICATED') {
      // The stored session is gone: connect without it, and let the app ask the person to log in.
      this.setToken(null);
      for (const listener of this.refusedListeners) listener({ code: 'UNAUTHENTICATED', message: refusal.message ?? 'session is not valid' });
      this.retryLater(0);
      return;
    }
    const problem = refusal?.code === 'UNAVAILABLE' ? 'The server is full right now.' : 'Can’t reach the server.';
    this.setState(this.connectedOnce ? 'reconnecting' : 'connecting', { problem });
    // A refusal by the server's middleware is final for socket.io; a network failure is retried by it.
    if (!this.socket.active) this.retryLater(2_000);
  }

  private retryLater(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.browserOffline && !this.socket.connected) this.socket.connect();
    }, delayMs);
  }

  private readonly goOffline = (): void => {
    this.browserOffline = true;
    clearTimeout(this.retryTimer);
    this.setState('offline', { attempt: 0, problem: 'Your device is offline.' });
    this.socket.disconnect();
  };

  private readonly goOnline = (): void => {
    if (!this.browserOffline) return;
    this.browserOffline = false;
    this.setState(this.connectedOnce ? 'reconnecting' : 'connecting', { attempt: 0, problem: null });
    this.socket.connect();
  };

  private whenConnected(method: RpcMethod): Promise<void> {
    if (this.snapshot.state === 'connected') return Promise.resolve();
    if (this.snapshot.state === 'offline') {
      return Promise.reject(new RpcCallError({ code: 'UNAVAILABLE', message: 'the browser is offline', details: { offline: true } }, method));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new RpcCallError({ code: 'UNAVAILABLE', message: 'not connected to the gateway', details: { notConnected: true } }, method));
      }, CONNECT_WAIT_MS);
      const stop = this.subscribe(() => {
        if (this.snapshot.state === 'connected') {
          clearTimeout(timer);
          stop();
          resolve();
        } else if (this.snapshot.state === 'offline') {
          clearTimeout(timer);
          stop();
          reject(new RpcCallError({ code: 'UNAVAILABLE', message: 'the browser is offline', details: { offline: true } }, method));
        }
      });
    });
  }
}
