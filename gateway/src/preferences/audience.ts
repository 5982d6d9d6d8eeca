// What a publication does for each recipient, from the preferences its audience was read with:
// muted recipients get no push, no unread and no email (their delivery is stored read); those
// opted out of email get everything but the email.
import type { Audience } from '../subscribers-cache.ts';

export interface Honoured {
  /** Recipients who muted the topic (persist stores their delivery read). */
  muted: string[];
  /** Recipients who want no email of the topic (checked by persist for an email publication). */
  emailOptOut: string[];
  /** Recipients counted unread and pushed to. */
  notified: string[];
}

export function honour(audience: Pick<Audience, 'muted' | 'emailOptOut'>, recipients: string[]): Honoured {
  const included = new Set(recipients);
  const muted = audience.muted.filter((userId) => included.has(userId));
  return {
    muted,
    emailOptOut: audience.emailOptOut.filter((userId) => included.has(userId)),
    notified: pushRecipients({ recipients, muted }),
  };
}

/** Who of a committed publication is emailed: neither muted nor opted out. */
export function emailRecipients(payload: { recipients: string[]; muted?: string[] | undefined; emailOptOut?: string[] | undefined }): string[] {
  const skipped = new Set([...(payload.muted ?? []), ...(payload.emailOptOut ?? [])]);
  return skipped.size ? payload.recipients.filter((userId) => !skipped.has(userId)) : payload.recipients;
}

/** Who of a committed publication is pushed to: the recipients who did not mute it. */
export function pushRecipients(payload: { recipients: string[]; muted?: string[] | undefined }): string[] {
  if (!payload.muted?.length) return payload.recipients;
  const muted = new Set(payload.muted);
  return payload.recipients.filter((userId) => !muted.has(userId));
}
