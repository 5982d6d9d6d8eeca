// An SMTP server that keeps what it receives, for `npm start` (a person reads the mail on a page)
// and for tests (they parse what arrived). It remembers Message-IDs and drops a second copy of one
// (counted), as a server that can tell would. It can be told to refuse for a while, or to answer
// slowly, so tests can watch retries and concurrency.
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject } from 'mailparser';
import type { ReceivedEmail } from '@notify/lib/contracts';

export type { ReceivedEmail };

export interface SinkOptions {
  port?: number;
  host?: string;
  /** Most messages kept (oldest dropped first). */
  maxMessages?: number;
}

const addresses = (value: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((entry) => entry.value.map((address) => address.address ?? ''));

export class SmtpSink {
  private readonly server: SMTPServer;
  private readonly received: ReceivedEmail[] = [];
  private readonly seen = new Set<string>();
  private refusingUntil = 0;
  private refusalCode = 421;
  private delayMs = 0;
  private receiving = 0;
  /** Copies of an already received Message-ID, accepted and dropped. */
  duplicates = 0;
  /** Connections refused while refusing. */
  refused = 0;
  /** Most messages in their DATA phase at once. */
  peakConcurrent = 0;
  private seq = 0;

  constructor(private readonly options: SinkOptions = {}) {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      size: 1_048_576,
      maxClients: 1_000,
      onConnect: (_session, callback) => {
        if (Date.now() < this.refusingUntil) {
          this.refused += 1;
          callback(Object.assign(new Error('mail service is busy, try again later'), { responseCode: this.refusalCode }));
          return;
        }
        callback();
      },
      onData: (stream, session, callback) => {
        void this.accept(stream, session).then(() => callback(), (error: unknown) => callback(error as Error));
      },
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    return this.port;
  }

  get port(): number {
    const address = this.server.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Refuses every connection for `ms` (code 421 by default: a transient refusal the sender retries). */
  refuseFor(ms: number, responseCode = 421): void {
    this.refusingUntil = Date.now() + ms;
    this.refusalCode = responseCode;
  }

  /** Holds every message this long before accepting it (a slow server). */
  answerAfter(ms: number): void {
    this.delayMs = ms;
  }

  messages(): readonly ReceivedEmail[] {
    return this.received;
  }

  /** Resolves once `predicate` holds for the received mail, or rejects after `timeoutMs`. */
  async until(predicate: (messages: readonly ReceivedEmail[]) => boolean, timeoutMs = 10_000): Promise<readonly ReceivedEmail[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) throw new Error(`the SMTP sink did not receive the expected mail within ${timeoutMs} ms (has ${this.received.length})`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return this.received;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async accept(stream: NodeJS.ReadableStream, session: SMTPServerSession): Promise<void> {
    this.receiving += 1;
    this.peakConcurrent = Math.max(this.peakConcurrent, this.receiving);
    try {
      const parsed = await simpleParser(stream as never);
      if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      const messageId = parsed.messageId ?? `<no-id-${this.seq + 1}@sink>`;
      if (this.seen.has(messageId)) {
        this.duplicates += 1;
        return;
      }
      this.seen.add(messageId);
      const headers: Record<string, string> = {};
      for (const [name, value] of parsed.headers) if (typeof value === 'string') headers[name] = value;
      // Headers the parser turns into objects (List-Unsubscribe and the other List-* ones) as sent, unfolded.
      for (const { key, line } of parsed.headerLines) {
        if (key.startsWith('list-') && !(key in headers)) headers[key] = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
      }
      this.seq += 1;
      this.received.push({
        seq: this.seq,
        messageId,
        from: addresses(parsed.from)[0] ?? '',
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        subject: parsed.subject ?? '',
        text: parsed.text ?? '',
        html: typeof parsed.html === 'string' ? parsed.html : '',
        headers,
        receivedAt: new Date().toISOString(),
      });
      const max = this.options.maxMessages ?? 10_000;
      if (this.received.length > max) this.received.splice(0, this.received.length - max);
    } finally {
      this.receiving -= 1;
    }
  }
}
