// Picks the mail transport for a URL by its scheme; an unknown scheme fails loudly at start.
import type { MailTransport } from './base.ts';
import { SmtpTransport } from './smtp.ts';

const TRANSPORTS: Record<string, (url: string) => MailTransport> = {
  'smtp:': (url) => new SmtpTransport(url),
  'smtps:': (url) => new SmtpTransport(url),
};

export const TRANSPORT_SCHEMES = Object.keys(TRANSPORTS).map((scheme) => scheme.slice(0, -1));

export function resolveTransport(url: string): MailTransport {
  const make = TRANSPORTS[new URL(url).protocol];
  if (!make) throw new Error(`no mail transport for ${new URL(url).protocol}// (known: ${TRANSPORT_SCHEMES.join(', ')})`);
  return make(url);
}
