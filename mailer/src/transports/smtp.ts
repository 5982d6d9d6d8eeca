// SMTP through nodemailer, one connection per send, so a send that times out never leaves a pooled
// connection in an unknown state (its own ends at the socket time-out, set to the same length).
import nodemailer from 'nodemailer';
import { SendError, type MailTransport, type OutgoingEmail, type SendResult } from './base.ts';

interface SmtpFailure {
  message: string;
  code?: string;
  responseCode?: number;
}

export class SmtpTransport implements MailTransport {
  constructor(private readonly url: string) {}

  async send(email: OutgoingEmail, timeoutMs: number): Promise<SendResult> {
    const transport = nodemailer.createTransport({
      url: this.url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new SendError(`no answer from the SMTP server within ${timeoutMs} ms`, { permanent: false })), timeoutMs);
    });
    try {
      const info = await Promise.race([transport.sendMail(email), timedOut]);
      return { messageId: info.messageId, response: info.response };
    } catch (error) {
      if (error instanceof SendError) throw error;
      const failure = error as SmtpFailure;
      // 5xx is the server's final word on this message (bad address, refused content); 4xx and
      // connection trouble may pass.
      const permanent = failure.responseCode !== undefined && failure.responseCode >= 500;
      throw new SendError(failure.message, { permanent, responseCode: failure.responseCode, cause: error });
    } finally {
      clearTimeout(timer);
      transport.close();
    }
  }

  close(): void {}
}
