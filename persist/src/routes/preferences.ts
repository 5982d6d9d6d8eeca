// Subscriber preferences: a subscription's `muted` and `email` (the acting subscriber's), a user's
// email switch and digest (their own), and what the mailer asks at send time about a recipient.
import type { FastifyInstance } from 'fastify';
import { createError, serveRoute } from '@notify/lib';
import { persistContract } from '@notify/lib/contracts';
import { subscriptionView } from '../domain/schemas.ts';
import type { Database } from '../store/database.ts';
import { findSubscription, setSubscriptionPreferences, setUserPreferences, userPreferences } from '../store/preferences.ts';
import { actingUser } from './identity.ts';

const routes = persistContract.routes;

export async function preferenceRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  serveRoute(app, routes.setSubscriptionPreferences, {}, async (request) => {
    const user = actingUser(request);
    const subscription = await setSubscriptionPreferences(db, request.params.id, user, request.body);
    if (!subscription) throw createError({ code: 'NOT_FOUND', message: 'not subscribed to this topic', details: { topicId: request.params.id } });
    return subscriptionView(subscription);
  });

  serveRoute(app, routes.getUserPreferences, {}, async (request) => userPreferences(db, actingUser(request)));

  serveRoute(app, routes.setUserPreferences, {}, async (request) => setUserPreferences(db, actingUser(request), request.body));

  /** The mailer, sending one email: may it, and is it part of a digest? */
  serveRoute(app, routes.emailPreferences, { config: { callers: ['mailer'] } }, async (request) => {
    const { userId } = request.params;
    const { topicId } = request.query;
    const [preferences, subscription] = await Promise.all([userPreferences(db, userId), topicId ? findSubscription(db, topicId, userId) : null]);
    return { ...preferences, subscription: subscription && { muted: subscription.muted, email: subscription.email } };
  });
}
