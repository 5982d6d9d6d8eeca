// Publish to one of your own topics: title, message, email on/off; then who got it and a link to its trace.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Notification, Topic } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { plural } from '../format.ts';
import { ErrorNote } from './ErrorNote.tsx';

interface Props {
  mine: Topic[];
  topicId: string;
  onTopicChange: (topicId: string) => void;
  /** Bumped when a topic row's "Publish" asks for the form's attention. */
  focusRequest: number;
  onOpenTrace: (notification: Notification) => void;
}

export function PublishForm({ mine, topicId, onTopicChange, focusRequest, onOpenTrace }: Props) {
  const client = useClient();
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [email, setEmail] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<{ notification: Notification; recipients: number; topic: string } | null>(null);
  const titleInput = useRef<HTMLInputElement>(null);
  const chosen = mine.find((topic) => topic.id === topicId) ?? mine[0];

  useEffect(() => {
    if (focusRequest) titleInput.current?.focus();
  }, [focusRequest]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      const { notification, recipients } = await client.call('notifications.publish', { topicId: chosen.id, title, body, email });
      setSent({ notification, recipients: recipients.length, topic: chosen.name });
      setTitle('');
      setBody('');
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
          <label className="check">
            <input type="checkbox" checked={email} onChange={(event) => setEmail(event.target.checked)} data-testid="publish-email" />
            <span>Also send by email</span>
          </label>
          <ErrorNote text={error} testId="publish-error" />
          <button type="submit" className="button button-primary button-wide" disabled={busy || !title.trim()} data-testid="publish-submit">
            {busy ? 'Publishing…' : 'Publish'}
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
