// A request refused before its body is read (a bad token in an onRequest hook, a body over the limit)
// still gets its answer, however the client sends: one that writes the whole body before reading
// (as Python's urllib does) must read the refusal, not a reset connection.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { createError } from '../src/errors.ts';
import { startService } from './helper.ts';

/** Writes the request line, headers and the whole body, and only then reads the answer's status line. */
function sendAllThenRead(port: number, path: string, bodyBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', (error) => reject(new Error(`${(error as NodeJS.ErrnoException).code ?? error.message} after ${answer.length} bytes of answer`)));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('connect', () => {
      socket.write(`PUT ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${bodyBytes}\r\nconnection: close\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = bodyBytes;
      const more = () => {
        while (left > 0) {
          const size = Math.min(left, chunk.byteLength);
          left -= size;
          if (!socket.write(size === chunk.byteLength ? chunk : chunk.subarray(0, size))) return void socket.once('drain', more);
        }
      };
      more();
    });
  });
}

test('a refusal before the body is read, and a body over the limit, reach a client that sends everything first', async (t) => {
  const { url } = await startService(t, {
    configure: (service) => {
      service.app.register(async (app) => {
        app.addHook('onRequest', async (request) => {
          if (request.headers.authorization !== 'Bearer right') throw createError({ code: 'UNAUTHENTICATED', message: 'a token is required' });
        });
        app.put('/guarded', async () => ({ ok: true }));
      });
      service.app.put('/open', async () => ({ ok: true }));
    },
  });
  const port = Number(new URL(url).port);
  // 6 MB: more than the socket buffers hold, so the server must read it for the client to finish.
  assert.equal(await sendAllThenRead(port, '/guarded', 6 * 1024 * 1024), 'HTTP/1.1 401 Unauthorized');
  assert.equal(await sendAllThenRead(port, '/open', 6 * 1024 * 1024), 'HTTP/1.1 400 Bad Request');
});
