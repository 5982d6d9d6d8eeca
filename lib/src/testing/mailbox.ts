// The mail an SMTP sink of the system received (mailer/src/smtp-sink, run as one of its processes),
// read from the sink's JSON page: what a test asserts about the emails the system sent.
import { request } from 'undici';
import type { ReceivedEmail } from '../contracts/smtp-sink.ts';

/** One email as the sink keeps it. */
export type ReceivedMail = ReceivedEmail;

export interface Mailbox {
  /** Every email received so far, in arrival order. */
  messages(): Promise<ReceivedMail[]>;
  /** Copies of an already received Message-ID, accepted and dropped. */
  duplicates(): Promise<number>;
  /** Resolves with the mail once `predicate` holds for it, or rejects after `timeoutMs`. */
  until(predicate: (messages: readonly ReceivedMail[]) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
}

/** The mailbox of the sink listening at `sink.url`. */
export function mailbox(sink: { url: string }): Mailbox {
  const read = async () => (await (await request(`${sink.url}/api/messages`, { signal: AbortSignal.timeout(10_000) })).body.json()) as { messages: ReceivedMail[]; duplicates: number };
  return {
    messages: async () => (await read()).messages,
    duplicates: async () => (await read()).duplicates,
    async until(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { messages } = await read();
        if (predicate(messages)) return messages;
        if (Date.now() > deadline) throw new Error(`the SMTP sink did not receive the expected mail within ${timeoutMs} ms (has ${messages.length})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
