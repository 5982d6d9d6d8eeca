// Topics: create, filter (all, mine, subscribed), refresh, load more, and each topic's actions and settings.
import type { Topics, TopicFilter } from '../state/use-topics.ts';
import { useSession } from '../state/session.ts';
import { TopicCreateForm } from './TopicCreateForm.tsx';
import { TopicRow } from './TopicRow.tsx';

const FILTERS: { value: TopicFilter; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: 'mine', label: 'Mine' },
  { value: 'subscribed', label: 'Subscribed' },
];

const EMPTY: Record<TopicFilter, string> = {
  all: 'No topics yet. Create the first one above.',
  mine: 'You haven’t created a topic yet.',
  subscribed: 'You don’t follow any topic yet. Subscribe to one under “All”.',
};

export function TopicsPanel({ topics, onPublish }: { topics: Topics; onPublish: (topicId: string) => void }) {
  const { user } = useSession();
  return (
    <section className="card topics" data-testid="topics-panel">
      <div className="card-head">
        <h2 className="card-title">Topics</h2>
        <button type="button" className="icon-button" title="Refresh" aria-label="Refresh topics" onClick={() => void topics.refresh()} data-testid="topics-refresh">
          <svg viewBox="0 0 24 24" aria-hidden="true" className={topics.loading ? 'spin' : undefined}>
            <path d="M17.7 6.3A8 8 0 1 0 20 12h-2a6 6 0 1 1-1.8-4.2L13 11h7V4l-2.3 2.3Z" />
          </svg>
        </button>
      </div>
      <TopicCreateForm onCreate={topics.create} />
      <div className="segmented" role="tablist" aria-label="Which topics">
        {FILTERS.map(({ value, label }) => (
          <button
            key={value}
            type="button"
            role="tab"
            aria-selected={topics.filter === value}
            className={topics.filter === value ? 'segment active' : 'segment'}
            onClick={() => topics.setFilter(value)}
            data-testid={`topics-filter-${value}`}
          >
            {label}
            {value === 'subscribed' && topics.subscribed.size > 0 && <span className="count">{topics.subscribed.size}</span>}
            {value === 'mine' && topics.mine.length > 0 && <span className="count">{topics.mine.length}</span>}
          </button>
        ))}
      </div>
      {topics.loading && topics.list.length === 0 ? (
        <p className="muted empty">Loading topics…</p>
      ) : topics.list.length === 0 ? (
        <p className="muted empty" data-testid="topics-empty">
          {EMPTY[topics.filter]}
        </p>
      ) : (
        <ul className="topic-list" data-testid="topic-list" aria-busy={topics.loading}>
          {topics.list.map((topic) => (
            <TopicRow
              key={topic.id}
              topic={topic}
              own={topic.creatorId === user.id}
              subscribed={topics.subscribed.has(topic.id)}
              busy={topics.busy.has(topic.id)}
              onSubscribe={() => void topics.subscribe(topic)}
              onUnsubscribe={() => void topics.unsubscribe(topic)}
              onDelete={() => void topics.remove(topic)}
              onPublish={() => onPublish(topic.id)}
              settings={topics.settings.get(topic.id)}
              onLoadSettings={() => void topics.loadSettings(topic)}
              onChangeSettings={(change) => topics.updateSettings(topic, change)}
            />
          ))}
        </ul>
      )}
      {topics.hasMore && (
        <button type="button" className="button button-ghost button-wide" disabled={topics.loadingMore} onClick={() => void topics.loadMore()} data-testid="topics-load-more">
          {topics.loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
