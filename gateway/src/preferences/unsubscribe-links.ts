// One-click unsubscribe links (RFC 8058) in notification emails: a token naming the user, the
// topic (or "all") and what is turned off, signed with HMAC-SHA256 under UNSUBSCRIBE_SECRET (or,
// unset, a key derived from SERVICE_SECRET), so only this deployment's gateways make and accept them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { createError, REASON } from '@notify/lib';

/** What a link turns off: the topic's emails, or every notification email. */
export interface UnsubscribeClaim {
  userId: string;
  topicId: string | 'all';
  scope: 'email';
}

const claimShape = z.strictObject({ u: z.string().min(1).max(128), t: z.union([z.uuid(), z.literal('all')]), s: z.literal('email') });
/** The path both the page (GET) and the one-click POST are served at. */
export const UNSUBSCRIBE_PATH = '/api/v1/unsubscribe';
const MAX_TOKEN_LENGTH = 1_000;

export class UnsubscribeLinks {
  private readonly key: Buffer;

  constructor(
    /** Where people reach the gateway; asked when a link is made (the port may be known only after listening). */
    private readonly publicUrl: () => string,
    secret: { unsubscribeSecret?: string | undefined; serviceSecret: string },
  ) {
    // A separate key for links people hold, never the service secret itself.
    this.key = secret.unsubscribeSecret
      ? Buffer.from(secret.unsubscribeSecret)
      : createHmac('sha256', secret.serviceSecret).update('notify unsubscribe links v1').digest();
  }

  token(claim: UnsubscribeClaim): string {
    const payload = Buffer.from(JSON.stringify({ u: claim.userId, t: claim.topicId, s: claim.scope })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The link for one recipient and topic (or all). */
  url(claim: UnsubscribeClaim): string {
    const url = new URL(UNSUBSCRIBE_PATH, this.publicUrl());
    url.searchParams.set('token', this.token(claim));
    return url.toString();
  }

  /** The claim a token carries; 400 INVALID_ARGUMENT when it does not parse, 403 FORBIDDEN when its signature is not ours. */
  verify(token: string): UnsubscribeClaim {
    const dot = token.indexOf('.');
    if (token.length > MAX_TOKEN_LENGTH || dot <= 0) throw malformed();
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw createError({ code: 'FORBIDDEN', message: 'this unsubscribe link was not made here, or was altered', details: { reason: REASON.UNSUBSCRIBE_TOKEN } });
    }
    let parsed;
    try {
      parsed = claimShape.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      throw malformed();
    }
    if (!parsed.success) throw malformed();
    return { userId: parsed.data.u, topicId: parsed.data.t, scope: parsed.data.s };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

function malformed() {
  return createError({ code: 'INVALID_ARGUMENT', message: 'the unsubscribe link is malformed', details: { reason: REASON.UNSUBSCRIBE_TOKEN } });
}
