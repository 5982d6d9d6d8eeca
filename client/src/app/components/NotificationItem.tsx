// One notification in the feed: who published it (avatar, name), topic, title, message, time, read
// state, and its action link when it has one; click for its trace, ✓ to ack, archive or unarchive.
import { useEffect, useRef } from 'react';
import { safeLink, type FeedNotification } from '../state/shapes.ts';
import { Avatar } from './Avatar.tsx';
import { RelativeTime } from './RelativeTime.tsx';

interface Props {
  notification: FeedNotification;
  topicName: string | undefined;
  fresh: boolean;
  /** Opened by its link (`?notification=<id>`): scrolled to and highlighted. */
  targeted: boolean;
  acking: boolean;
  archiving: boolean;
  onOpen: () => void;
  onAck: () => void;
  onArchive: (archived: boolean) => void;
}

function linkLabel(href: string): string {
  try {
    return new URL(href).host;
  } catch {
    return 'link';
  }
}

export function NotificationItem({ notification, topicName, fresh, targeted, acking, archiving, onOpen, onAck, onArchive }: Props) {
  const item = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (targeted) item.current?.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }, [targeted]);
  const classes = ['notification', notification.read ? 'read' : 'unread', fresh ? 'fresh' : '', targeted ? 'targeted' : ''].filter(Boolean).join(' ');
  const link = safeLink(notification.url);
  const publisher = notification.publisherName || 'Someone';
  return (
    <li
      ref={item}
      className={classes}
      data-testid="notification-item"
      data-id={notification.id}
      data-read={notification.read}
      data-archived={notification.archived}
      data-targeted={targeted || undefined}
      aria-current={targeted || undefined}
    >
      <div className="notification-content">
        <button type="button" className="notification-main" onClick={onOpen} title="Show its lifecycle trace">
          <span className="unread-dot" aria-label={notification.read ? 'read' : 'unread'} />
          {notification.publisherAvatarUrl ? (
            <Avatar path={notification.publisherAvatarUrl} name={publisher} size={32} testId="notification-publisher-avatar" />
          ) : (
            <span className="avatar avatar-fallback notification-avatar-empty" aria-hidden="true" />
          )}
          <span className="notification-text">
            <span className="notification-meta">
              <span className="notification-publisher" data-testid="notification-publisher">
                {publisher}
              </span>
              <span className="topic-chip" data-testid="notification-topic">
                #{topicName ?? 'topic'}
              </span>
              {notification.email && <span className="pill">✉ email</span>}
              <RelativeTime iso={notification.createdAt} />
            </span>
            <span className="notification-title" data-testid="notification-title">
              {notification.title}
            </span>
            {notification.body && <span className="notification-body">{notification.body}</span>}
          </span>
        </button>
        {link && (
          <a className="notification-link" href={link} target="_blank" rel="noopener noreferrer" data-testid="notification-link">
            Open {linkLabel(link)} <span aria-hidden="true">↗</span>
          </a>
        )}
      </div>
      <div className="notification-actions">
        {!notification.read && (
          <button type="button" className="icon-button ack" title="Mark as read" aria-label="Mark as read" disabled={acking} onClick={onAck} data-testid="notification-ack">
            <svg viewBox="0 0 24 24" aria-hidden="true">
              <path d="m9.5 16.2-4.2-4.2-1.4 1.4 5.6 5.6 11-11-1.4-1.4Z" />
            </svg>
          </button>
        )}
        {notification.archived ? (
          <button type="button" className="icon-button" title="Move back to the inbox" aria-label="Unarchive" disabled={archiving} onClick={() => onArchive(false)} data-testid="notification-unarchive">
            <svg viewBox="0 0 24 24" aria-hidden="true">
              <path d="M20 6H4v3h16V6ZM5 10v10h14V10H5Zm7 1.5 4 4h-3v3h-2v-3H8l4-4Z" />
            </svg>
          </button>
        ) : (
          <button type="button" className="icon-button" title="Archive" aria-label="Archive" disabled={archiving} onClick={() => onArchive(true)} data-testid="notification-archive">
            <svg viewBox="0 0 24 24" aria-hidden="true">
              <path d="M20 6H4v3h16V6ZM5 10v10h14V10H5Zm7 8.5-4-4h3v-3h2v3h3l-4 4Z" />
            </svg>
          </button>
        )}
      </div>
    </li>
  );
}
