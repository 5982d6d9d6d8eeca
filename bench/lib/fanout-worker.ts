// Worker thread of the fan-out benchmark: holds a share of the many client connections (JSON-RPC
// over /ws, or socket.io), each logged in with its own user's token, and times when each one
// receives the notification push whose title carries the marker it was armed with. Times are
// process.hrtime (CLOCK_MONOTONIC, shared by every thread) minus a base the main thread gives.
import { parentPort, workerData } from 'node:worker_threads';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

export interface FanoutWorkerData {
  gatewayPort: number;
  transport: 'jsonrpc' | 'socket.io';
  tokens: string[];
  connectConcurrency: number;
}

export type ToWorker = { type: 'arm'; marker: string; base: bigint } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; opened: number; failed: number; firstError?: string }
  | { type: 'arrivals'; marker: string; times: Float64Array; missing: number }
  | { type: 'closed' };

interface Client {
  close(): void;
}

const data = workerData as FanoutWorkerData;
const port = parentPort!;
const clients: Client[] = [];
let armed: { marker: string; bytes: Buffer; base: bigint; times: Float64Array; got: Uint8Array; remaining: number; timer: NodeJS.Timeout } | undefined;

function arrived(index: number): void {
  if (!armed || armed.got[index]) return;
  armed.got[index] = 1;
  armed.times[index] = Number(process.hrtime.bigint() - armed.base) / 1e6;
  armed.remaining -= 1;
  if (armed.remaining === 0) report();
}

function report(): void {
  if (!armed) return;
  const { marker, times, got, remaining, timer } = armed;
  clearTimeout(timer);
  for (let i = 0; i < got.length; i += 1) if (!got[i]) times[i] = Number.NaN;
  armed = undefined;
  port.postMessage({ type: 'arrivals', marker, times, missing: remaining } satisfies FromWorker);
}

/** A JSON-RPC connection that is logged in once `users.me` answers (the gateway resolves `?token=` first). */
function openJsonRpc(index: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${data.gatewayPort}/ws?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    let ready = false;
    socket.on('open', () => socket.send('{"jsonrpc":"2.0","id":1,"method":"users.me","params":{}}'));
    socket.on('message', (message: Buffer) => {
      if (!ready) {
        ready = true;
        if (message.includes('"error"')) reject(new Error(`users.me failed: ${message.toString('utf8').slice(0, 200)}`));
        else resolve({ close: () => socket.terminate() });
        return;
      }
      if (armed && message.includes(armed.bytes)) arrived(index);
    });
    socket.on('error', (error) => {
      if (!ready) reject(error);
    });
    socket.on('close', (code, reason) => {
      if (!ready) reject(new Error(`closed before login: ${code} ${reason.toString()}`));
    });
  });
}

function openSocketIo(index: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(`http://127.0.0.1:${data.gatewayPort}`, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
    socket.once('connect', () => resolve({ close: () => socket.disconnect() }));
    socket.once('connect_error', reject);
    socket.on('notification', (notification: { title?: string }) => {
      if (armed && notification.title?.includes(armed.marker)) arrived(index);
    });
  });
}

async function openAll(): Promise<void> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const open = data.transport === 'jsonrpc' ? openJsonRpc : openSocketIo;
  await Promise.all(
    Array.from({ length: Math.min(data.connectConcurrency, data.tokens.length) }, async () => {
      while (next < data.tokens.length) {
        const index = next++;
        try {
          clients[index] = await open(index, data.tokens[index]!);
        } catch (error) {
          failed += 1;
          firstError ??= (error as Error).message;
        }
      }
    }),
  );
  port.postMessage({ type: 'ready', opened: data.tokens.length - failed, failed, ...(firstError ? { firstError } : {}) } satisfies FromWorker);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'arm') {
    const count = data.tokens.length;
    armed = {
      marker: message.marker,
      bytes: Buffer.from(message.marker),
      base: message.base,
      times: new Float64Array(count),
      got: new Uint8Array(count),
      remaining: clients.filter(Boolean).length,
      // Whatever has not arrived in 20 s is reported missing.
      timer: setTimeout(report, 20_000),
    };
    // Sockets that failed to open never receive: count them as received-never (NaN).
    for (let i = 0; i < count; i += 1) {
      if (clients[i]) continue;
      armed.got[i] = 1;
      armed.times[i] = Number.NaN;
    }
    if (armed.remaining === 0) report();
  } else if (message.type === 'close') {
    for (const client of clients) client?.close();
    clients.length = 0;
    port.postMessage({ type: 'closed' } satisfies FromWorker);
  }
});

void openAll();
