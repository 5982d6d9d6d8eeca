// One topic in the list: name, description, who made it and how many follow it, and what you can do
// with it (subscribe / unsubscribe; on a followed one: mute and email settings; on your own: publish
// and delete, with a confirmation).
import { useState } from 'react';
import { friendlyError } from '../api/errors.ts';
import { plural } from '../format.ts';
import type { ListedTopic, TopicSettings } from '../state/shapes.ts';
import { ErrorNote } from './ErrorNote.tsx';
import { RelativeTime } from './RelativeTime.tsx';

interface Props {
  topic: ListedTopic;
  own: boolean;
  subscribed: boolean;
  busy: boolean;
  /** Mute and email, once known. */
  settings: TopicSettings | undefined;
  onSubscribe: () => void;
  onUnsubscribe: () => void;
  onDelete: () => void;
  onPublish: () => void;
  onLoadSettings: () => void;
  onChangeSettings: (change: Partial<TopicSettings>) => Promise<void>;
}

export function TopicRow({ topic, own, subscribed, busy, settings, onSubscribe, onUnsubscribe, onDelete, onPublish, onLoadSettings, onChangeSettings }: Props) {
  const [confirming, setConfirming] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const panelId = `topic-settings-${topic.id}`;

  const toggleSettings = () => {
    if (!settingsOpen) onLoadSettings();
    setSettingsOpen(!settingsOpen);
    setError(null);
  };

  const change = async (next: Partial<TopicSettings>) => {
    setSaving(true);
    setError(null);
    try {
      await onChangeSettings(next);
    } catch (failure) {
      setError(friendlyError(failure));
    } finally {
      setSaving(false);
    }
  };

  const about = [
    topic.creatorName ? `by ${own ? 'you' : topic.creatorName}` : null,
    topic.subscriberCount !== undefined ? plural(topic.subscriberCount, 'follower') : null,
  ].filter(Boolean);

  return (
    <li
      className="topic"
      data-testid="topic-row"
      data-topic-id={topic.id}
      data-topic-name={topic.name}
      data-subscribed={subscribed}
      data-muted={settings?.muted}
      data-email={settings?.email}
    >
      <div className="topic-text">
        <div className="topic-name">
          <span className="hash">#</span>
          <span data-testid="topic-name">{topic.name}</span>
          {own && <span className="pill pill-own">yours</span>}
          {subscribed && <span className="pill pill-following">following</span>}
          {subscribed && settings?.muted && (
            <span className="pill pill-muted" data-testid="topic-muted-pill">
              muted
            </span>
          )}
        </div>
        {topic.description && <p className="topic-description">{topic.description}</p>}
        <p className="faint">
          {about.length > 0 && (
            <span data-testid="topic-about">
              {about.join(' · ')}
              {' · '}
            </span>
          )}
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
            {subscribed && (
              <button
                type="button"
                className={settingsOpen ? 'icon-button active' : 'icon-button'}
                title="Notification settings for this topic"
                aria-label={`Notification settings for #${topic.name}`}
                aria-expanded={settingsOpen}
                aria-controls={panelId}
                onClick={toggleSettings}
                data-testid="topic-settings"
              >
                <svg viewBox="0 0 24 24" aria-hidden="true">
                  <path d="M12 2a6 6 0 0 0-6 6v3.6l-1.7 3.1A1 1 0 0 0 5.2 16h13.6a1 1 0 0 0 .9-1.3L18 11.6V8a6 6 0 0 0-6-6Zm-2.8 16a2.9 2.9 0 0 0 5.6 0Z" />
                </svg>
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
      {subscribed && settingsOpen && (
        <div className="topic-settings" id={panelId} role="group" aria-label={`Settings for #${topic.name}`} data-testid="topic-settings-panel">
          {settings ? (
            <>
              <label className="check">
                <input type="checkbox" checked={settings.muted} disabled={saving} onChange={(event) => void change({ muted: event.target.checked })} data-testid="topic-mute" />
                <span>
                  Mute <span className="faint">(no push, badge or email; still in your feed, already read)</span>
                </span>
              </label>
              <label className="check">
                <input type="checkbox" checked={settings.email} disabled={saving} onChange={(event) => void change({ email: event.target.checked })} data-testid="topic-email" />
                <span>
                  Email me what’s published here{settings.muted && settings.email && <span className="faint"> (not while muted)</span>}
                </span>
              </label>
            </>
          ) : (
            <p className="muted">Loading your settings…</p>
          )}
          <ErrorNote text={error} testId="topic-settings-error" />
        </div>
      )}
    </li>
  );
}
