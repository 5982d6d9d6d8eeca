// socket.io at /socket.io/: `socket.emit(method, params, ack)`, the ack receiving `{result}` or
// `{error}`; a token may come in the handshake (`auth: {token}`), and a refused one fails the
// connection with `connect_error` whose `data` is the contract error. Pushes are plain events.
// socket.io shares the port with @fastify/websocket: its engine gets the /socket.io/ requests and
// upgrades explicitly (see routeUpgrades), so neither library swallows the other's traffic.
// This file owns the socket's life and its calls; pushes are written in socket-io-connection.ts.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Server as Engine } from 'engine.io';
import { Server as SocketIoServer } from 'socket.io';
import { hasErrorCode, type AppError } from '@notify/lib';
import type { ConnectionRegistry, Session } from '../connections.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { rpcError, type Dispatcher } from '../rpc/dispatcher.ts';
import type { Sessions } from '../sessions.ts';
import { socketIoConnection } from './socket-io-connection.ts';

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
