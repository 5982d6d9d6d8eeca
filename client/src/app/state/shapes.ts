// What the feed and the topic list show beyond the contract's shapes: a followed topic's mute and
// email settings, and an action link only when it is http(s).
import type { Notification, Topic } from '@notify/lib/rpc';

export type FeedNotification = Notification;
export type ListedTopic = Topic;

/** Per-topic settings of a followed topic. */
export interface TopicSettings {
  muted: boolean;
  email: boolean;
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
