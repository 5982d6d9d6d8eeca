// JSON-RPC 2.0 over plain WebSocket at /ws (@fastify/websocket). A token may come as `?token=`.
// Every frame gets an answer unless it is a JSON-RPC notification (no id); a frame that is not
// JSON, not an object, or not JSON-RPC gets an error and the connection lives on. Pushes are
// JSON-RPC notifications. Frames over MAX_FRAME_BYTES close the connection (1009).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { hasErrorCode, type AppError } from '@notify/lib';
import { JSON_RPC_ERRORS } from '@notify/lib/rpc';
import type { Connection, ConnectionRegistry, Session } from '../connections.ts';
import { INVALID_PARAMS, UNKNOWN_METHOD, rpcError, type Dispatcher } from '../rpc/dispatcher.ts';
import type { Sessions } from '../sessions.ts';
import type { GatewayMetrics } from '../metrics.ts';

/**
 * How far behind each socket's client may read (bytes queued, MAX_UNREAD_BYTES) before it is cut
 * off rather than buffered without end, and what to count when it is.
 */
const outputLimits = new WeakMap<WebSocket, { maxUnreadBytes: number; onCut: () => void }>();

type Id = string | number | null;
interface Reply {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data: { code: string; details?: Record<string, unknown> } };
}

export interface JsonRpcOptions {
  dispatcher: Dispatcher;
  connections: ConnectionRegistry;
  sessions: Sessions;
  metrics: GatewayMetrics;
  maxConnections: number;
  maxUnreadBytes: number;
}

export async function jsonRpcRoutes(app: FastifyInstance, o: JsonRpcOptions): Promise<void> {
  app.get('/ws', { websocket: true }, (socket, request) => {
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
    outputLimits.set(socket, { maxUnreadBytes: o.maxUnreadBytes, onCut: () => o.metrics.slowReadersCut.inc({ transport: 'jsonrpc' }) });
    const connection = jsonRpcConnection(socket, request.ip);
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

function jsonRpcConnection(socket: WebSocket, remoteAddress: string): Connection {
  return {
    id: randomUUID(),
    transport: 'jsonrpc',
    remoteAddress,
    session: undefined as Session | undefined,
    inflight: 0,
    push(event, data) {
      sendText(socket, encodePush(event, data));
    },
    close(reason) {
      // 4408: closed for not logging in in time.
      socket.close(4408, reason.slice(0, 120));
    },
    pauseReading: () => socket.pause(),
    resumeReading: () => socket.resume(),
  };
}

function send(socket: WebSocket, message: unknown): void {
  sendText(socket, JSON.stringify(message));
}

function sendText(socket: WebSocket, text: string | Buffer): void {
  if (socket.readyState !== socket.OPEN) return;
  const limits = outputLimits.get(socket);
  if (limits && socket.bufferedAmount > limits.maxUnreadBytes) {
    limits.onCut();
    outputLimits.delete(socket);
    // Not close(): its close frame would queue behind what the client does not read.
    socket.terminate();
    return;
  }
  // A Buffer goes out as a text frame as it is (no per-socket conversion of a shared string).
  socket.send(text, { binary: false });
}

/** A fan-out pushes one data object to thousands of connections: it is serialised and encoded once. */
const encoded = new WeakMap<object, { event: string; bytes: Buffer }>();
function encodePush(event: string, data: object): Buffer {
  const cached = encoded.get(data);
  if (cached?.event === event) return cached.bytes;
  const bytes = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: event, params: data }));
  encoded.set(data, { event, bytes });
  return bytes;
}

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

/** The answer to one frame (a reply, a batch of replies, or nothing for notifications only). */
export async function handleFrame(dispatcher: Dispatcher, connection: Connection, text: string | null): Promise<Reply | Reply[] | undefined> {
  if (text === null) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'binary frames are not JSON-RPC; send text');
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (error) {
    return failure(null, JSON_RPC_ERRORS.parseError, 'INVALID_ARGUMENT', `parse error: ${(error as Error).message}`);
  }
  if (Array.isArray(frame)) {
    if (frame.length === 0) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'an empty batch is not a request');
    const replies = await Promise.all(frame.map((item) => handleRequest(dispatcher, connection, item)));
    const answered = replies.filter((reply): reply is Reply => reply !== undefined);
    return answered.length ? answered : undefined;
  }
  return handleRequest(dispatcher, connection, frame);
}

async function handleRequest(dispatcher: Dispatcher, connection: Connection, frame: unknown): Promise<Reply | undefined> {
  if (typeof frame !== 'object' || frame === null) {
    return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'a request must be a JSON object');
  }
  const request = frame as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const hasId = Object.hasOwn(request, 'id');
  const id = validId(request.id) ? request.id : null;
  if (request.jsonrpc !== '2.0') return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'jsonrpc must be "2.0"');
  if (hasId && !validId(request.id)) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'id must be a string, a number or null');
  if (typeof request.method !== 'string') return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'method must be a string');
  // JSON-RPC 2.0 §4.2: params, when present, is a structured value (object or array); anything else
  // makes the request itself invalid, not just its parameters.
  if (request.params !== undefined && (typeof request.params !== 'object' || request.params === null)) {
    return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'params must be an object or an array');
  }
  try {
    const result = await dispatcher.call(connection, request.method, request.params);
    return hasId ? { jsonrpc: '2.0', id, result } : undefined;
  } catch (error) {
    if (!hasId) return undefined;
    const appError = error as AppError;
    const reason = appError.details.reason;
    const number = reason === UNKNOWN_METHOD ? JSON_RPC_ERRORS.methodNotFound : reason === INVALID_PARAMS ? JSON_RPC_ERRORS.invalidParams : JSON_RPC_ERRORS.applicationError;
    const wire = rpcError(appError);
    return { jsonrpc: '2.0', id, error: { code: number, message: wire.message, data: { code: wire.code, ...(wire.details ? { details: wire.details } : {}) } } };
  }
}

function failure(id: Id, number: number, code: string, message: string): Reply {
  return { jsonrpc: '2.0', id, error: { code: number, message, data: { code } } };
}

function validId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}
