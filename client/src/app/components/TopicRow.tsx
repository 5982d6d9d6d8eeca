// One topic in the list: name, description, who made it, and what you can do with it
// (subscribe / unsubscribe; on your own: publish and delete, with a confirmation).
import { useState } from 'react';
import type { Topic } from '@notify/lib/rpc';
import { RelativeTime } from './RelativeTime.tsx';

interface Props {
  topic: Topic;
  own: boolean;
  subscribed: boolean;
  busy: boolean;
  onSubscribe: () => void;
  onUnsubscribe: () => void;
  onDelete: () => void;
  onPublish: () => void;
}

export function TopicRow({ topic, own, subscribed, busy, onSubscribe, onUnsubscribe, onDelete, onPublish }: Props) {
  const [confirming, setConfirming] = useState(false);
  return (
    <li className="topic" data-testid="topic-row" data-topic-id={topic.id} data-topic-name={topic.name} data-subscribed={subscribed}>
      <div className="topic-text">
        <div className="topic-name">
          <span className="hash">#</span>
          <span data-testid="topic-name">{topic.name}</span>
          {own && <span className="pill pill-own">yours</span>}
          {subscribed && <span className="pill pill-following">following</span>}
        </div>
        {topic.description && <p className="topic-description">{topic.description}</p>}
        <p className="faint">
          created <RelativeTime iso={topic.createdAt} />
        </p>
      </div>
      <div className="topic-actions">
        {confirming ? (
          <>
            <span className="confirm-text">Delete #{topic.name}?</span>
            <button type="button" className="button button-danger button-small" disabled={busy} onClick={() => { setConfirming(false); onDelete(); }} data-testid="topic-delete-confirm">
              Delete
            </button>
            <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <>
            {own && (
              <button type="button" className="button button-ghost button-small" onClick={onPublish} data-testid="topic-publish">
                Publish
              </button>
            )}
            {subscribed ? (
              <button type="button" className="button button-secondary button-small" disabled={busy} onClick={onUnsubscribe} data-testid="topic-unsubscribe">
                Unsubscribe
              </button>
            ) : (
              <button type="button" className="button button-primary button-small" disabled={busy} onClick={onSubscribe} data-testid="topic-subscribe">
                Subscribe
              </button>
            )}
            {own && (
              <button type="button" className="icon-button danger" title="Delete topic" aria-label={`Delete #${topic.name}`} disabled={busy} onClick={() => setConfirming(true)} data-testid="topic-delete">
                <svg viewBox="0 0 24 24" aria-hidden="true">
                  <path d="M9 3h6l1 2h4v2H4V5h4l1-2Zm-3 6h12l-1 12H7L6 9Z" />
                </svg>
              </button>
            )}
          </>
        )}
      </div>
    </li>
  );
}
