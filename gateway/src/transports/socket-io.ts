// socket.io at /socket.io/: `socket.emit(method, params, ack)`, the ack receiving `{result}` or
// `{error}`; a token may come in the handshake (`auth: {token}`), and a refused one fails the
// connection with `connect_error` whose `data` is the contract error. Pushes are plain events.
// socket.io shares the port with @fastify/websocket: its engine gets the /socket.io/ requests and
// upgrades explicitly (see routeUpgrades), so neither library swallows the other's traffic.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Server as Engine } from 'engine.io';
import { Server as SocketIoServer, type Socket } from 'socket.io';
import { hasErrorCode, type AppError } from '@notify/lib';
import type { Connection, ConnectionRegistry, Session } from '../connections.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { rpcError, type Dispatcher } from '../rpc/dispatcher.ts';
import type { Sessions } from '../sessions.ts';

export const SOCKET_IO_PATH = '/socket.io/';

export interface SocketIoOptions {
  dispatcher: Dispatcher;
  connections: ConnectionRegistry;
  sessions: Sessions;
  metrics: GatewayMetrics;
  maxFrameBytes: number;
  maxConnections: number;
  maxUnreadBytes: number;
}

/** socket.io on the fastify app's server; closed with the app. */
export function attachSocketIo(app: FastifyInstance, o: SocketIoOptions): SocketIoServer {
  // The React client is served from another origin (port 3333); tokens, not cookies, so any origin may connect.
  const engine = new Engine({ maxHttpBufferSize: o.maxFrameBytes, cors: { origin: true }, pingInterval: 25_000, pingTimeout: 20_000 });
  const io = new SocketIoServer({ serveClient: false, path: SOCKET_IO_PATH });
  io.bind(engine);

  app.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: SOCKET_IO_PATH,
    // Before fastify reads the body: engine.io owns the raw request from here on.
    onRequest: (request, reply, done) => {
      reply.hijack();
      engine.handleRequest(request.raw, reply.raw);
      done();
    },
    handler: async () => undefined,
  });
  app.addHook('onReady', async () => routeUpgrades(app.server, engine));
  app.addHook('preClose', async () => {
    io.disconnectSockets(true);
    engine.close();
  });

  io.use((socket, next) => {
    if (o.connections.size >= o.maxConnections) {
      o.metrics.refused.inc({ transport: 'socket.io', reason: 'limit' });
      next(refusal({ code: 'UNAVAILABLE', message: 'too many connections; try again later' }));
      return;
    }
    if (o.connections.addressFull(socket.handshake.address)) {
      o.metrics.refused.inc({ transport: 'socket.io', reason: 'address' });
      next(refusal(o.connections.tooManyFromAddress()));
      return;
    }
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (token === undefined || token === null || token === '') return next();
    if (typeof token !== 'string') return next(refusal({ code: 'UNAUTHENTICATED', message: 'auth.token must be a string' }));
    o.sessions.resolve(token).then(
      (session) => {
        if (o.connections.userFull(session.user.id)) {
          o.metrics.refused.inc({ transport: 'socket.io', reason: 'user' });
          next(refusal(o.connections.tooManyForUser()));
          return;
        }
        (socket.data as { session?: Session }).session = session;
        next();
      },
      (error: unknown) => {
        o.metrics.refused.inc({ transport: 'socket.io', reason: 'token' });
        next(refusal(hasErrorCode(error) ? error : { code: 'INTERNAL', message: 'token check failed' }));
      },
    );
  });

  io.on('connection', (socket) => {
    // Checked again now that it counts: handshakes that resolved their tokens side by side all
    // passed the middleware's check before any of them was added.
    const session = (socket.data as { session?: Session }).session;
    const addressFull = o.connections.addressFull(socket.handshake.address);
    if (addressFull || (session && o.connections.userFull(session.user.id))) {
      o.metrics.refused.inc({ transport: 'socket.io', reason: addressFull ? 'address' : 'user' });
      const { code, message } = addressFull ? o.connections.tooManyFromAddress() : o.connections.tooManyForUser();
      socket.emit('rpc.error', { method: null, error: { code, message } });
      socket.disconnect(true);
      return;
    }
    const connection = socketIoConnection(socket, o.maxUnreadBytes, () => o.metrics.slowReadersCut.inc({ transport: 'socket.io' }));
    o.connections.add(connection);
    o.connections.setSession(connection, session);
    socket.on('disconnect', () => {
      o.connections.remove(connection);
      o.dispatcher.share.abandon(connection);
    });
    socket.onAny((method: unknown, ...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
      o.dispatcher.call(connection, method, args[0]).then(
        (result) => {
          if (connection.writable()) ack?.({ result });
        },
        (error: AppError) => {
          if (!connection.writable()) return;
          const wire = rpcError(error);
          // Without an ack there is nowhere to answer: the failure goes out as an event instead.
          if (ack) ack({ error: wire });
          else socket.emit('rpc.error', { method: typeof method === 'string' ? method.slice(0, 100) : null, error: wire });
        },
      );
    });
  });
  return io;
}

/**
 * What engine.io holds for a socket's client and has not yet handed to the kernel: packets waiting
 * while the transport is busy (counted as they are created, until flushed to the transport) plus
 * what the transport's WebSocket queued. A client that stops reading makes both grow without end.
 */
function unreadOutput(socket: Socket): () => number {
  const conn = socket.conn as unknown as EventEmitter & { transport: { socket?: { bufferedAmount?: number } } };
  let waiting = 0;
  conn.on('packetCreate', (packet: { data?: unknown }) => {
    if (typeof packet.data === 'string') waiting += packet.data.length;
    else if (Buffer.isBuffer(packet.data)) waiting += packet.data.byteLength;
  });
  conn.on('flush', () => {
    waiting = 0;
  });
  return () => waiting + (conn.transport.socket?.bufferedAmount ?? 0);
}

/** The WebSocket under a socket.io connection on the websocket transport. */
function transportSocket(socket: Socket): { pause?: () => void; resume?: () => void; terminate?: () => void } | undefined {
  return (socket.conn as unknown as { transport: { socket?: { pause?: () => void; resume?: () => void; terminate?: () => void } } }).transport.socket;
}

function socketIoConnection(socket: Socket, maxUnreadBytes: number, onCut: () => void): Connection & { writable(): boolean } {
  const unread = unreadOutput(socket);
  let cut = false;
  /** False (and the connection cut) once its client has let MAX_UNREAD_BYTES pile up unread. */
  const reading = () => {
    if (cut) return false;
    if (unread() <= maxUnreadBytes) return true;
    cut = true;
    onCut();
    const ws = transportSocket(socket);
    socket.disconnect(true);
    // Dropped at once: a polite close would queue its frame behind what the client does not read.
    ws?.terminate?.();
    return false;
  };
  return {
    id: randomUUID(),
    transport: 'socket.io',
    remoteAddress: socket.handshake.address,
    session: undefined,
    inflight: 0,
    /** Answers and pushes alike: false (and the connection cut) once its client reads too far behind. */
    writable: reading,
    push(event, data) {
      if (reading()) socket.emit(event, data);
    },
    close(reason) {
      socket.emit('rpc.error', { method: null, error: { code: 'UNAUTHENTICATED', message: reason } });
      socket.disconnect(true);
    },
    // Over the WebSocket transport its socket stops being read; long-polling clients are not paused.
    pauseReading: () => transportSocket(socket)?.pause?.(),
    resumeReading: () => transportSocket(socket)?.resume?.(),
  };
}

/** A handshake refusal: the client's `connect_error` carries the contract error in `data`. */
function refusal(error: { code: string; message: string }): Error {
  return Object.assign(new Error(error.message), { data: { code: error.code, message: error.message } });
}

/**
 * @fastify/websocket listens to every upgrade; socket.io's engine must get its own. One listener
 * replaces them: /socket.io/ goes to the engine, everything else to the listeners already there.
 */
export function routeUpgrades(server: HttpServer, engine: Engine): void {
  const others = server.listeners('upgrade') as ((request: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (request.url?.startsWith(SOCKET_IO_PATH)) engine.handleUpgrade(request, socket, head);
    else for (const listener of others) listener.call(server, request, socket, head);
  });
}
