// A notification's lifecycle (notifications.trace): prepared, committed, delivered per connection,
// emailed, acked, each with its time and the time since the first event, and the distributed trace
// it was published in (its id, linked to the trace viewer when the gateway names one). Refreshes while open.
import { useCallback, useEffect, useState } from 'react';
import type { Notification, TraceEvent } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { clockTime, fullTime, offset, plural, shortId } from '../format.ts';
import { safeLink } from '../state/shapes.ts';
import { ErrorNote } from './ErrorNote.tsx';

const REFRESH_MS = 3_000;

interface Props {
  notification: Notification;
  topicName: string | undefined;
  userId: string;
  onClose: () => void;
}

const LABELS: Record<TraceEvent['type'], string> = {
  prepared: 'Prepared',
  committed: 'Committed',
  delivered: 'Delivered',
  emailed: 'Emailed',
  acked: 'Read',
};

function describe(event: TraceEvent, userId: string): string {
  const who = event.recipientId === null ? null : event.recipientId === userId ? 'you' : `user ${shortId(event.recipientId)}`;
  const detail = (event.detail ?? {}) as Record<string, unknown>;
  switch (event.type) {
    case 'prepared':
      return `Stored but invisible on every participant (two-phase commit, phase 1)${typeof detail.recipients === 'number' ? ` for ${plural(detail.recipients, 'recipient')}` : ''}.`;
    case 'committed':
      return 'Made visible everywhere at once (phase 2); pushes go out from here.';
    case 'delivered': {
      const how = [typeof detail.transport === 'string' ? `over ${detail.transport}` : null, typeof detail.gateway === 'string' ? `by ${detail.gateway}` : null].filter(Boolean).join(' ');
      return `Pushed to ${who ?? 'a recipient'}${how ? ` ${how}` : ''}${typeof detail.connection === 'string' ? ` (connection ${shortId(detail.connection)})` : ''}.`;
    }
    case 'emailed':
      return `Emailed to ${who ?? 'a recipient'}.`;
    case 'acked':
      return `Marked as read by ${who ?? 'a recipient'}.`;
  }
}

export function TraceDialog({ notification, topicName, userId, onClose }: Props) {
  const client = useClient();
  const [events, setEvents] = useState<TraceEvent[] | null>(null);
  const [trace, setTrace] = useState<{ traceId: string | null; traceUrl: string | null }>({ traceId: null, traceUrl: null });
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const answer = await client.call('notifications.trace', { notificationId: notification.id });
      setEvents(answer.events);
      setTrace({ traceId: answer.traceId ?? null, traceUrl: safeLink(answer.traceUrl ?? null) });
      setError(null);
    } catch (failure) {
      setError(friendlyError(failure));
    }
  }, [client, notification.id]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const first = events?.[0] ? Date.parse(events[0].at) : 0;
  return (
    <div className="overlay" onClick={onClose}>
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby="trace-title" onClick={(event) => event.stopPropagation()} data-testid="trace-dialog">
        <div className="card-head">
          <div>
            <p className="faint">
              #{topicName ?? 'topic'} · {fullTime(notification.createdAt)}
            </p>
            <h2 id="trace-title" className="dialog-title">
              {notification.title}
            </h2>
          </div>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose} data-testid="trace-close">
            ×
          </button>
        </div>
        {notification.body && <p className="dialog-body">{notification.body}</p>}
        <div className="card-head">
          <h3 className="section-title">Lifecycle</h3>
          <button type="button" className="button button-ghost button-small" onClick={() => void load()} data-testid="trace-refresh">
            Refresh
          </button>
        </div>
        <ErrorNote text={error} testId="trace-error" />
        {trace.traceId && (
          <p className="muted" data-testid="trace-id">
            Trace{' '}
            {trace.traceUrl ? (
              <a className="mono" href={trace.traceUrl} target="_blank" rel="noopener noreferrer" data-testid="trace-link">
                {trace.traceId}
              </a>
            ) : (
              <span className="mono">{trace.traceId}</span>
            )}
          </p>
        )}
        {events === null ? (
          !error && <p className="muted">Loading the trace…</p>
        ) : events.length === 0 ? (
          <p className="muted">No events recorded yet.</p>
        ) : (
          <ol className="timeline" data-testid="trace-events">
            {events.map((event, index) => (
              <li key={index} className={`timeline-event event-${event.type}`} data-testid="trace-event" data-type={event.type}>
                <span className="timeline-node" aria-hidden="true" />
                <div className="timeline-text">
                  <div className="timeline-head">
                    <strong>{LABELS[event.type]}</strong>
                    <span className="mono faint" title={fullTime(event.at)}>
                      {clockTime(event.at)}
                      {index > 0 && <span className="offset"> {offset(Date.parse(event.at) - first)}</span>}
                    </span>
                  </div>
                  <p className="muted">{describe(event, userId)}</p>
                </div>
              </li>
            ))}
          </ol>
        )}
      </div>
    </div>
  );
}
