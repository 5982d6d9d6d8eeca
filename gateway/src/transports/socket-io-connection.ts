// A socket.io connection as the gateway sees it (the Connection the registry and fan-out push to):
// pushes, answers' writability, pausing its reads, and cutting off a client that reads too slowly
// (more than MAX_UNREAD_BYTES held for it) rather than buffering without end.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import type { Connection } from '../connections.ts';

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
export function transportSocket(socket: Socket): { pause?: () => void; resume?: () => void; terminate?: () => void } | undefined {
  return (socket.conn as unknown as { transport: { socket?: { pause?: () => void; resume?: () => void; terminate?: () => void } } }).transport.socket;
}

export function socketIoConnection(socket: Socket, maxUnreadBytes: number, onCut: () => void): Connection & { writable(): boolean } {
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
