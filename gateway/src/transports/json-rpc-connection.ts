// A JSON-RPC connection as the gateway sees it (the Connection the registry and fan-out push to),
// and writing to its socket: a client that reads too slowly (more than MAX_UNREAD_BYTES queued)
// is cut off rather than buffered without end.
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Connection, Session } from '../connections.ts';

/** How far behind each socket's client may read (bytes queued) before it is cut off, and what to count when it is. */
export interface OutputLimits {
  maxUnreadBytes: number;
  onCut: () => void;
}

const outputLimits = new WeakMap<WebSocket, OutputLimits>();

export function jsonRpcConnection(socket: WebSocket, remoteAddress: string, limits: OutputLimits): Connection {
  outputLimits.set(socket, limits);
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

export function send(socket: WebSocket, message: unknown): void {
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
