// A JSON request over node:http that returns the server's answer even when the server answers
// before the body is fully sent (a body over the limit): fetch reports that as a failed write.
import { request as httpRequest } from 'node:http';

export async function sendRaw(
  url: string,
  options: { method: string; headers?: Record<string, string>; body: string },
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let failure: Error | undefined;
    const req = httpRequest(url, { method: options.method, headers: { 'content-type': 'application/json', ...options.headers } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined });
      });
    });
    // The server may stop reading once it has refused the body; what it answered is what counts.
    req.on('error', (error: NodeJS.ErrnoException) => {
      failure = error;
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    // A connection reset before any answer arrived (the server closed with our body unread) is
    // a failure to report, never a hang.
    req.on('close', () => {
      if (!answered) reject(failure ?? new Error('connection closed before an answer'));
    });
    req.end(options.body);
  });
}
