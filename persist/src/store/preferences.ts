// Subscriber preferences: a subscription's `muted` and `email`, a user's email switch and digest
// settings (user_preferences; no row is the default: email on, no digest).
import type { Database } from './database.ts';
import type { SubscriptionRow } from './subscriptions.ts';

export interface UserPreferencesRow {
  email: boolean;
  digest: { threshold: number; windowMinutes: number } | null;
}

const DEFAULTS: UserPreferencesRow = { email: true, digest: null };

/** Sets the given preferences of a user's subscription; null when they do not follow the topic. */
export async function setSubscriptionPreferences(db: Database, topicId: string, userId: string, change: { muted?: boolean | undefined; email?: boolean | undefined }): Promise<SubscriptionRow | null> {
  const data = { ...(change.muted === undefined ? {} : { muted: change.muted }), ...(change.email === undefined ? {} : { email: change.email }) };
  const { count } = await db.subscription.updateMany({ where: { topicId, userId }, data });
  if (count === 0) return null;
  return findSubscription(db, topicId, userId);
}

/** A user's subscription to a topic; null when there is none. */
export function findSubscription(db: Database, topicId: string, userId: string): Promise<SubscriptionRow | null> {
  return db.subscription.findUnique({ where: { topicId_userId: { topicId, userId } } });
}

export async function userPreferences(db: Database, userId: string): Promise<UserPreferencesRow> {
  const row = await db.userPreferences.findUnique({ where: { userId } });
  return row ? view(row) : DEFAULTS;
}

/** Sets the given preferences (`digest: null` turns the digest off), in one upsert; answers them all. No change given: nothing is written. */
export async function setUserPreferences(
  db: Database,
  userId: string,
  change: { email?: boolean | undefined; digest?: { threshold: number; windowMinutes: number } | null | undefined },
): Promise<UserPreferencesRow> {
  if (change.email === undefined && change.digest === undefined) return userPreferences(db, userId);
  const data = {
    ...(change.email === undefined ? {} : { email: change.email }),
    ...(change.digest === undefined ? {} : { digestThreshold: change.digest?.threshold ?? null, digestWindowMinutes: change.digest?.windowMinutes ?? null }),
    updatedAt: new Date(),
  };
  return view(await db.userPreferences.upsert({ where: { userId }, create: { userId, ...data }, update: data }));
}

function view(row: { email: boolean; digestThreshold: number | null; digestWindowMinutes: number | null }): UserPreferencesRow {
  return {
    email: row.email,
    digest: row.digestThreshold !== null && row.digestWindowMinutes !== null ? { threshold: row.digestThreshold, windowMinutes: row.digestWindowMinutes } : null,
  };
}
