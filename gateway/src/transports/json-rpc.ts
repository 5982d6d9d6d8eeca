// JSON-RPC 2.0 over plain WebSocket at /ws (@fastify/websocket). A token may come as `?token=`.
// Every frame gets an answer unless it is a JSON-RPC notification (no id); a frame that is not
// JSON, not an object, or not JSON-RPC gets an error and the connection lives on. Pushes are
// JSON-RPC notifications. Frames over MAX_FRAME_BYTES close the connection (1009). This file
// owns the socket's life; frames are read in json-rpc-frames.ts, written in json-rpc-connection.ts.
import type { FastifyInstance } from 'fastify';
import { hasErrorCode } from '@notify/lib';
import { JSON_RPC_ERRORS } from '@notify/lib/rpc';
import type { ConnectionRegistry } from '../connections.ts';
import type { Dispatcher } from '../rpc/dispatcher.ts';
import type { Sessions } from '../sessions.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { handleFrame } from './json-rpc-frames.ts';
import { jsonRpcConnection, send } from './json-rpc-connection.ts';

export interface JsonRpcOptions {
  dispatcher: Dispatcher;
  connections: ConnectionRegistry;
  sessions: Sessions;
  metrics: GatewayMetrics;
  maxConnections: number;
  maxUnreadBytes: number;
}

export async function jsonRpcRoutes(app: FastifyInstance, o: JsonRpcOptions): Promise<void> {
  // No span for the connection itself: each call on it starts its own trace (see the dispatcher).
  app.get('/ws', { websocket: true, config: { trace: false } }, (socket, request) => {
    if (o.connections.size >= o.maxConnections) {
      o.metrics.refused.inc({ transport: 'jsonrpc', reason: 'limit' });
      socket.close(1013, 'too many connections; try again later');
      return;
    }
    if (o.connections.addressFull(request.ip)) {
      o.metrics.refused.inc({ transport: 'jsonrpc', reason: 'address' });
      // 4429: too many connections from this address (a 4xxx code is the application's own).
      socket.close(4429, `RATE_LIMITED: ${o.connections.tooManyFromAddress().message}`);
      return;
    }
    const connection = jsonRpcConnection(socket, request.ip, { maxUnreadBytes: o.maxUnreadBytes, onCut: () => o.metrics.slowReadersCut.inc({ transport: 'jsonrpc' }) });
    o.connections.add(connection);
    socket.on('close', () => {
      o.connections.remove(connection);
      o.dispatcher.share.abandon(connection);
    });
    socket.on('error', () => socket.terminate());

    // Messages may arrive before the token is resolved: each waits for it (handlers attach now).
    const token = (request.query as { token?: unknown }).token;
    const ready = typeof token === 'string' ? resolveHandshake(token) : Promise.resolve(true);
    async function resolveHandshake(value: string): Promise<boolean> {
      try {
        const session = await o.sessions.resolve(value);
        if (o.connections.userFull(session.user.id, connection)) throw o.connections.tooManyForUser();
        o.connections.setSession(connection, session);
        return true;
      } catch (error) {
        const failure = hasErrorCode(error) ? error : { code: 'INTERNAL', message: 'token check failed' };
        const limited = failure.code === 'RATE_LIMITED';
        o.metrics.refused.inc({ transport: 'jsonrpc', reason: limited ? 'user' : 'token' });
        send(socket, { jsonrpc: '2.0', id: null, error: { code: JSON_RPC_ERRORS.applicationError, message: failure.message, data: { code: failure.code } } });
        // 4401: the token was refused (UNAUTHENTICATED) or could not be checked (auth unavailable);
        // 4429: its user already holds MAX_CONNECTIONS_PER_USER connections.
        socket.close(limited ? 4429 : 4401, `${failure.code}: ${failure.message}`.slice(0, 120));
        return false;
      }
    }

    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      void ready.then(async (ok) => {
        if (!ok) return;
        const answer = await handleFrame(o.dispatcher, connection, isBinary ? null : rawText(data));
        if (answer !== undefined) send(socket, answer);
      });
    });
  });
}

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
