// A port `fetch` refuses (the Fetch standard's "bad ports", as persist's default 6000 is), for
// tests proving that calls between services do not go through fetch.
import { createServer } from 'node:net';

/** Bad ports no default of this system uses (6000 is persist's, so it is left to `npm start`). */
const CANDIDATES = [6665, 6666, 6667, 6668, 6669, 6697, 10080];

/** The first candidate free on 127.0.0.1; fails naming them all when every one is taken. */
export async function freeBadPort(): Promise<number> {
  for (const port of CANDIDATES) {
    const free = await new Promise<boolean>((done) => {
      const server = createServer().once('error', () => done(false));
      server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (free) return port;
  }
  throw new Error(`every bad port (${CANDIDATES.join(', ')}) is taken on this machine`);
}
