// socket.io at /socket.io/: `socket.emit(method, params, ack)`, the ack receiving `{result}` or
// `{error}`; a token may come in the handshake (`auth: {token}`), and a refused one fails the
// connection with `connect_error` whose `data` is the contract error. Pushes are plain events.
// socket.io shares the port with @fastify/websocket: its engine gets the /socket.io/ requests and
// upgrades explicitly (see routeUpgrades), so neither library swallows the other's traffic.
import { randomUUID } from 'node:crypto';
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
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (token === undefined || token === null || token === '') return next();
    if (typeof token !== 'string') return next(refusal({ code: 'UNAUTHENTICATED', message: 'auth.token must be a string' }));
    o.sessions.resolve(token).then(
      (session) => {
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
    const connection = socketIoConnection(socket);
    o.connections.add(connection);
    o.connections.setSession(connection, (socket.data as { session?: Session }).session);
    socket.on('disconnect', () => o.connections.remove(connection));
    socket.onAny((method: unknown, ...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
      o.dispatcher.call(connection, method, args[0]).then(
        (result) => ack?.({ result }),
        (error: AppError) => {
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

function socketIoConnection(socket: Socket): Connection {
  return {
    id: randomUUID(),
    transport: 'socket.io',
    remoteAddress: socket.handshake.address,
    session: undefined,
    inflight: 0,
    push(event, data) {
      socket.emit(event, data);
    },
    close(reason) {
      socket.emit('rpc.error', { method: null, error: { code: 'UNAUTHENTICATED', message: reason } });
      socket.disconnect(true);
    },
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
