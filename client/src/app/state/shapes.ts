// The richer shapes the feed and the topic list show (publisher, action link, archived; follower
// count, creator name; per-topic mute and email), read defensively from the gateway's answers: a
// field a gateway does not send yet gets a neutral value instead of breaking the screen.
import type { DraftNotification, DraftTopic, Notification, Topic } from '@notify/lib/rpc';

export type FeedNotification = DraftNotification;

/** A topic as listed; the follower count and the creator's name when the gateway sends them. */
export type ListedTopic = Topic & Partial<Pick<DraftTopic, 'subscriberCount' | 'creatorName'>>;

/** Per-topic settings of a followed topic. */
export interface TopicSettings {
  muted: boolean;
  email: boolean;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

export function asFeedNotification(notification: Notification): FeedNotification {
  const extra = notification as Partial<DraftNotification>;
  return {
    ...notification,
    publisherName: text(extra.publisherName) ?? '',
    publisherAvatarUrl: text(extra.publisherAvatarUrl) ?? '',
    url: text(extra.url),
    archived: extra.archived === true,
  };
}

export function asListedTopic(topic: Topic): ListedTopic {
  const extra = topic as Partial<DraftTopic>;
  return {
    ...topic,
    subscriberCount: typeof extra.subscriberCount === 'number' ? extra.subscriberCount : undefined,
    creatorName: text(extra.creatorName) ?? undefined,
  };
}

/** The mute and email settings a listed (followed) topic or a subscription carries, when the gateway sends them. */
export function settingsOf(answer: object): TopicSettings | null {
  const extra = answer as Partial<TopicSettings>;
  return typeof extra.muted === 'boolean' && typeof extra.email === 'boolean' ? { muted: extra.muted, email: extra.email } : null;
}

/** The link a notification may carry, only when it is http(s); anything else is not shown. */
export function safeLink(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}
