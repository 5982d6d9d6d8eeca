// One-click unsubscribe (RFC 8058) at UNSUBSCRIBE_PATH: the emails' List-Unsubscribe URL. A GET
// (what a person's click, or a mail scanner's prefetch, sends) only shows a page whose button
// POSTs; the POST (the mail client's `List-Unsubscribe=One-Click`, or that button) turns the email
// off, for the topic or for all, as the signed token says. A forged or altered token changes nothing.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { escapeHtml, hasErrorCode, type ZodTypeProvider } from '@notify/lib';
import type { Upstreams } from '../upstreams.ts';
import type { BusMessage } from '../push/fanout.ts';
import { UNSUBSCRIBE_PATH, type UnsubscribeClaim, type UnsubscribeLinks } from './unsubscribe-links.ts';

const query = z.strictObject({ token: z.string().min(1).max(1_000) });

export async function unsubscribeRoutes(
  app: FastifyInstance,
  d: { links: UnsubscribeLinks; upstreams: Pick<Upstreams, 'persist'>; publish: (message: BusMessage) => Promise<void> },
): Promise<void> {
  // RFC 8058's body is `List-Unsubscribe=One-Click` as a form (URL-encoded or multipart, as mail
  // clients send it); its content does not change what is done, so it is read and set aside.
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 4_096 }, (_request, body, done) => done(null, body));
  }
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get(UNSUBSCRIBE_PATH, { schema: { querystring: query } }, async (request, reply) => {
    const claim = d.links.verify(request.query.token);
    const action = `${UNSUBSCRIBE_PATH}?token=${encodeURIComponent(request.query.token)}`;
    return page(reply, 'Unsubscribe', [
      `Stop ${claim.topicId === 'all' ? 'every notification email' : 'the emails of this topic'}?`,
      `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
    ]);
  });

  typed.post(UNSUBSCRIBE_PATH, { schema: { querystring: query } }, async (request, reply) => {
    const claim = d.links.verify(request.query.token);
    const done = await unsubscribe(claim);
    return page(reply, 'Unsubscribed', [
      done ? (claim.topicId === 'all' ? 'You will get no more notification emails.' : 'You will get no more emails of this topic.') : 'You no longer follow this topic: there is nothing to unsubscribe from.',
    ]);
  });

  /** Turns the email off; false when the topic's subscription is gone already. */
  async function unsubscribe(claim: UnsubscribeClaim): Promise<boolean> {
    const as = { user: claim.userId };
    if (claim.topicId === 'all') {
      await d.upstreams.persist.setUserPreferences({ body: { email: false } }, as);
      return true;
    }
    try {
      await d.upstreams.persist.setSubscriptionPreferences({ params: { id: claim.topicId }, body: { email: false } }, as);
    } catch (error) {
      if (hasErrorCode(error) && error.code === 'NOT_FOUND') return false;
      throw error;
    }
    await d.publish({ kind: 'subscribers-changed', topicId: claim.topicId });
    return true;
  }
}

function page(reply: FastifyReply, title: string, parts: string[]): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
        `<body style="font-family:system-ui,sans-serif;max-width:480px;margin:3em auto"><h1>${escapeHtml(title)}</h1>${parts.map((part) => (part.startsWith('<form') ? part : `<p>${escapeHtml(part)}</p>`)).join('')}</body></html>`,
    );
}
