// The live feed: unread badge (from counter pushes), mark all read, the Unread / All / Archived views,
// the notifications, load more, and a note when a reconnect caught up on missed ones.
import { useConnection } from '../api/hooks.ts';
import { plural } from '../format.ts';
import type { Feed, FeedFilter } from '../state/use-feed.ts';
import type { FeedNotification } from '../state/shapes.ts';
import { NotificationItem } from './NotificationItem.tsx';

interface Props {
  feed: Feed;
  topicNames: ReadonlyMap<string, string>;
  /** The notification opened by its link, highlighted. */
  targetedId: string | null;
  onOpen: (notification: FeedNotification) => void;
}

const FILTERS: { value: FeedFilter; label: string }[] = [
  { value: 'unread', label: 'Unread' },
  { value: 'all', label: 'All' },
  { value: 'archived', label: 'Archived' },
];

const EMPTY: Record<FeedFilter, [string, string]> = {
  unread: ['You’re all caught up.', 'Nothing unread; new notifications show up here live.'],
  all: ['No notifications yet.', 'Subscribe to a topic; what its creator publishes shows up here live.'],
  archived: ['Nothing archived.', 'Archive a notification to move it out of your inbox; it stays here.'],
};

export function NotificationFeed({ feed, topicNames, targetedId, onOpen }: Props) {
  const unread = feed.unread ?? 0;
  const { state } = useConnection();
  return (
    <section className="card feed" data-testid="feed" data-filter={feed.filter}>
      <div className="card-head">
        <h2 className="card-title">
          Notifications
          <span className={unread > 0 ? 'badge' : 'badge badge-zero'} data-testid="unread-badge" aria-label={`${unread} unread`} title={`${unread} unread`}>
            {feed.unread === null ? '–' : unread}
          </span>
        </h2>
        <button type="button" className="button button-ghost button-small" disabled={unread === 0 || feed.ackingAll} onClick={() => void feed.ackAll()} data-testid="feed-ack-all">
          {feed.ackingAll ? 'Marking…' : 'Mark all read'}
        </button>
      </div>
      <div className="segmented" role="tablist" aria-label="Which notifications">
        {FILTERS.map(({ value, label }) => (
          <button
            key={value}
            type="button"
            role="tab"
            aria-selected={feed.filter === value}
            className={feed.filter === value ? 'segment active' : 'segment'}
            onClick={() => feed.setFilter(value)}
            data-testid={`feed-filter-${value}`}
          >
            {label}
            {value === 'unread' && unread > 0 && <span className="count">{unread}</span>}
          </button>
        ))}
      </div>
      {(state === 'offline' || state === 'reconnecting') && (
        <p className={`feed-paused feed-paused-${state}`} data-testid="feed-paused">
          {state === 'offline' ? 'You’re offline.' : 'Connection lost, reconnecting…'} New notifications will appear as soon as you’re back; nothing gets lost.
        </p>
      )}
      {feed.lastCatchUp && (
        <p className="catch-up" data-testid="feed-catch-up" key={feed.lastCatchUp.at}>
          Back online: {feed.lastCatchUp.added ? `${plural(feed.lastCatchUp.added, 'notification')} arrived while you were away.` : 'nothing was missed.'}
        </p>
      )}
      {feed.loading ? (
        <p className="muted empty">Loading notifications…</p>
      ) : feed.notifications.length === 0 ? (
        <div className="empty feed-empty" data-testid="feed-empty">
          <p>{EMPTY[feed.filter][0]}</p>
          <p className="muted">{EMPTY[feed.filter][1]}</p>
        </div>
      ) : (
        <ul className="notification-list" data-testid="feed-list">
          {feed.notifications.map((notification) => (
            <NotificationItem
              key={notification.id}
              notification={notification}
              topicName={topicNames.get(notification.topicId)}
              fresh={feed.fresh.has(notification.id)}
              targeted={notification.id === targetedId}
              acking={feed.acking.has(notification.id)}
              archiving={feed.archiving.has(notification.id)}
              onOpen={() => onOpen(notification)}
              onAck={() => void feed.ack(notification.id)}
              onArchive={(archived) => void feed.archive(notification.id, archived)}
            />
          ))}
        </ul>
      )}
      {feed.hasMore && (
        <button type="button" className="button button-ghost button-wide" disabled={feed.loadingMore} onClick={() => void feed.loadMore()} data-testid="feed-load-more">
          {feed.loadingMore ? 'Loading…' : 'Load older'}
        </button>
      )}
    </section>
  );
}
