// Publish to one of your own topics: title, message, an optional action link, email on/off, and to
// everyone following or only to chosen followers; then who got it and a link to its trace.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Notification, RpcParams, Topic } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { plural } from '../format.ts';
import { safeLink } from '../state/shapes.ts';
import { ErrorNote } from './ErrorNote.tsx';

/** Most followers listed in the picker (100 per page). */
const MAX_SUBSCRIBER_PAGES = 20;

interface Props {
  mine: Topic[];
  topicId: string;
  onTopicChange: (topicId: string) => void;
  /** Bumped when a topic row's "Publish" asks for the form's attention. */
  focusRequest: number;
  onOpenTrace: (notification: Notification) => void;
}

type Audience = 'everyone' | 'chosen';

interface Follower {
  id: string;
  name: string;
}

export function PublishForm({ mine, topicId, onTopicChange, focusRequest, onOpenTrace }: Props) {
  const client = useClient();
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [url, setUrl] = useState('');
  const [email, setEmail] = useState(false);
  const [audience, setAudience] = useState<Audience>('everyone');
  const [followers, setFollowers] = useState<{ topicId: string; list: Follower[]; partial: boolean } | null>(null);
  const [followersError, setFollowersError] = useState<string | null>(null);
  const [chosenIds, setChosenIds] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<{ notification: Notification; recipients: number; topic: string } | null>(null);
  const titleInput = useRef<HTMLInputElement>(null);
  const chosen = mine.find((topic) => topic.id === topicId) ?? mine[0];
  const chosenId = chosen?.id;

  useEffect(() => {
    if (focusRequest) titleInput.current?.focus();
  }, [focusRequest]);

  // The picker lists the chosen topic's followers (topics.subscribers, creator only), page by page.
  useEffect(() => {
    if (audience !== 'chosen' || !chosenId) return;
    let cancelled = false;
    setFollowers(null);
    setFollowersError(null);
    setChosenIds(new Set());
    void (async () => {
      try {
        const list: Follower[] = [];
        let next: string | undefined;
        let partial = false;
        for (let page = 0; ; page += 1) {
          if (page === MAX_SUBSCRIBER_PAGES) {
            partial = true;
            break;
          }
          const answer = await client.call('topics.subscribers', { topicId: chosenId, limit: 100, ...(next ? { cursor: next } : {}) });
          if (cancelled) return;
          list.push(...answer.subscribers);
          if (!answer.nextCursor) break;
          next = answer.nextCursor;
        }
        if (!cancelled) setFollowers({ topicId: chosenId, list, partial });
      } catch (failure) {
        if (!cancelled) setFollowersError(friendlyError(failure));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [audience, chosenId, client]);

  const trimmedUrl = url.trim();
  const urlProblem = trimmedUrl && !safeLink(trimmedUrl) ? 'The link must be a full http:// or https:// address.' : null;
  const needsChoice = audience === 'chosen' && chosenIds.size === 0;

  const toggleFollower = (id: string, on: boolean) =>
    setChosenIds((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen || urlProblem || needsChoice) return;
    setBusy(true);
    setError(null);
    try {
      const params: RpcParams<'notifications.publish'> = {
        topicId: chosen.id,
        title,
        body,
        email,
        ...(trimmedUrl ? { url: trimmedUrl } : {}),
        ...(audience === 'chosen' ? { to: [...chosenIds] } : {}),
      };
      const { notification, recipients } = await client.call('notifications.publish', params);
      setSent({ notification, recipients: recipients.length, topic: chosen.name });
      setTitle('');
      setBody('');
      setUrl('');
    } catch (failure) {
      setError(friendlyError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" data-testid="publish-panel">
      <h2 className="card-title">Publish</h2>
      {mine.length === 0 ? (
        <p className="muted empty">Create a topic first: you can publish to the topics you created.</p>
      ) : (
        <form className="form" onSubmit={(event) => void submit(event)}>
          <label className="field">
            <span>Topic</span>
            <select value={chosen?.id ?? ''} onChange={(event) => onTopicChange(event.target.value)} data-testid="publish-topic">
              {mine.map((topic) => (
                <option key={topic.id} value={topic.id}>
                  # {topic.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Title</span>
            <input ref={titleInput} value={title} onChange={(event) => setTitle(event.target.value)} required maxLength={200} placeholder="Deploy finished" data-testid="publish-title" />
          </label>
          <label className="field">
            <span>Message</span>
            <textarea value={body} onChange={(event) => setBody(event.target.value)} rows={3} maxLength={10_000} placeholder="What happened?" data-testid="publish-body" />
          </label>
          <label className="field">
            <span>Action link (optional)</span>
            <input
              type="url"
              value={url}
              onChange={(event) => setUrl(event.target.value)}
              maxLength={2000}
              placeholder="https://example.com/release-notes"
              aria-invalid={urlProblem ? true : undefined}
              data-testid="publish-url"
            />
          </label>
          <ErrorNote text={urlProblem} testId="publish-url-error" />
          <label className="check">
            <input type="checkbox" checked={email} onChange={(event) => setEmail(event.target.checked)} data-testid="publish-email" />
            <span>Also send by email</span>
          </label>
          <fieldset className="audience">
            <legend>Send to</legend>
            <label className="check">
              <input type="radio" name="audience" checked={audience === 'everyone'} onChange={() => setAudience('everyone')} data-testid="publish-audience-everyone" />
              <span>Everyone following</span>
            </label>
            <label className="check">
              <input type="radio" name="audience" checked={audience === 'chosen'} onChange={() => setAudience('chosen')} data-testid="publish-audience-chosen" />
              <span>Chosen followers</span>
            </label>
            {audience === 'chosen' && (
              <div className="follower-picker" data-testid="publish-followers">
                <ErrorNote text={followersError} testId="publish-followers-error" />
                {!followers || followers.topicId !== chosen?.id ? (
                  !followersError && <p className="muted">Loading who follows #{chosen?.name}…</p>
                ) : followers.list.length === 0 ? (
                  <p className="muted" data-testid="publish-followers-empty">
                    Nobody follows #{chosen?.name} yet.
                  </p>
                ) : (
                  <>
                    <ul className="follower-list" aria-label={`Followers of #${chosen?.name}`}>
                      {followers.list.map((follower) => (
                        <li key={follower.id}>
                          <label className="check">
                            <input
                              type="checkbox"
                              checked={chosenIds.has(follower.id)}
                              onChange={(event) => toggleFollower(follower.id, event.target.checked)}
                              data-testid="publish-follower"
                              data-user-id={follower.id}
                              data-user-name={follower.name}
                            />
                            <span>{follower.name}</span>
                          </label>
                        </li>
                      ))}
                    </ul>
                    <p className="faint" data-testid="publish-followers-chosen">
                      {chosenIds.size} of {plural(followers.list.length, 'follower')} chosen{followers.partial ? ' (only the first ones are listed)' : ''}
                    </p>
                  </>
                )}
              </div>
            )}
          </fieldset>
          <ErrorNote text={error} testId="publish-error" />
          <button type="submit" className="button button-primary button-wide" disabled={busy || !title.trim() || urlProblem !== null || needsChoice} data-testid="publish-submit">
            {busy ? 'Publishing…' : needsChoice ? 'Choose at least one follower' : 'Publish'}
          </button>
          {sent && (
            <p className="success-note" data-testid="publish-result">
              Sent “{sent.notification.title}” to {plural(sent.recipients, 'subscriber')} of #{sent.topic}.{' '}
              <button type="button" className="link" onClick={() => onOpenTrace(sent.notification)}>
                View trace
              </button>
            </p>
          )}
        </form>
      )}
    </section>
  );
}
