// A mail transport: hands one message to a mail server. Implementations live beside this file and
// are chosen by `resolveTransport` from the URL's scheme.

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Fixed per email across attempts (see domain/jobs.ts). */
  messageId: string;
  headers: Record<string, string>;
}

export interface SendResult {
  messageId: string;
  /** The server's last answer, e.g. "250 OK: queued as 1234". */
  response: string;
}

/** Why a send failed, as the queue needs it: a permanent refusal is not retried. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly options: { permanent: boolean; responseCode?: number; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = 'SendError';
  }

  get permanent(): boolean {
    return this.options.permanent;
  }
}

export interface MailTransport {
  /** Sends one email within `timeoutMs`, or rejects with a SendError. */
  send(email: OutgoingEmail, timeoutMs: number): Promise<SendResult>;
  close(): void;
}
