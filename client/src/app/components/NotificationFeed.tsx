// The live feed: unread badge (from counter pushes), ack all, the notifications, load more, and a
// note when a reconnect caught up on missed ones.
import type { Notification } from '@notify/lib/rpc';
import { useConnection } from '../api/hooks.ts';
import { plural } from '../format.ts';
import type { Feed } from '../state/use-feed.ts';
import { NotificationItem } from './NotificationItem.tsx';

interface Props {
  feed: Feed;
  topicNames: ReadonlyMap<string, string>;
  onOpen: (notification: Notification) => void;
}

export function NotificationFeed({ feed, topicNames, onOpen }: Props) {
  const unread = feed.unread ?? 0;
  const { state } = useConnection();
  return (
    <section className="card feed" data-testid="feed">
      <div className="card-head">
        <h2 className="card-title">
          Notifications
          <span className={unread > 0 ? 'badge' : 'badge badge-zero'} data-testid="unread-badge" aria-label={`${unread} unread`} title={`${unread} unread`}>
            {feed.unread === null ? '–' : unread}
          </span>
        </h2>
        <button type="button" className="button button-ghost button-small" disabled={unread === 0 || feed.ackingAll !== null} onClick={() => void feed.ackAll()} data-testid="feed-ack-all">
          {feed.ackingAll ? `Marking ${feed.ackingAll.done}/${feed.ackingAll.total}…` : 'Mark all read'}
        </button>
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
          <p>No notifications yet.</p>
          <p className="muted">Subscribe to a topic; what its creator publishes shows up here live.</p>
        </div>
      ) : (
        <ul className="notification-list" data-testid="feed-list">
          {feed.notifications.map((notification) => (
            <NotificationItem
              key={notification.id}
              notification={notification}
              topicName={topicNames.get(notification.topicId)}
              fresh={feed.fresh.has(notification.id)}
              acking={feed.acking.has(notification.id)}
              onOpen={() => onOpen(notification)}
              onAck={() => void feed.ack(notification.id)}
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
