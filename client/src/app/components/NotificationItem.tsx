// One notification in the feed: topic, title, message, time, read state; click for its trace, ✓ to ack.
import type { Notification } from '@notify/lib/rpc';
import { RelativeTime } from './RelativeTime.tsx';

interface Props {
  notification: Notification;
  topicName: string | undefined;
  fresh: boolean;
  acking: boolean;
  onOpen: () => void;
  onAck: () => void;
}

export function NotificationItem({ notification, topicName, fresh, acking, onOpen, onAck }: Props) {
  const classes = ['notification', notification.read ? 'read' : 'unread', fresh ? 'fresh' : ''].filter(Boolean).join(' ');
  return (
    <li className={classes} data-testid="notification-item" data-id={notification.id} data-read={notification.read}>
      <button type="button" className="notification-main" onClick={onOpen} title="Show its lifecycle trace">
        <span className="unread-dot" aria-label={notification.read ? 'read' : 'unread'} />
        <span className="notification-text">
          <span className="notification-meta">
            <span className="topic-chip">#{topicName ?? 'topic'}</span>
            {notification.email && <span className="pill">✉ email</span>}
            <RelativeTime iso={notification.createdAt} />
          </span>
          <span className="notification-title" data-testid="notification-title">
            {notification.title}
          </span>
          {notification.body && <span className="notification-body">{notification.body}</span>}
        </span>
      </button>
      {!notification.read && (
        <button type="button" className="icon-button ack" title="Mark as read" aria-label="Mark as read" disabled={acking} onClick={onAck} data-testid="notification-ack">
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="m9.5 16.2-4.2-4.2-1.4 1.4 5.6 5.6 11-11-1.4-1.4Z" />
          </svg>
        </button>
      )}
    </li>
  );
}
