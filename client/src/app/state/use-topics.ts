// Topics as the workspace needs them: the filtered list (all, mine, subscribed) with "load more",
// which topics the user follows, the user's own topics (for publishing), and every name seen (for the feed).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { RpcParams, Topic } from '@notify/lib/rpc';
import { isConnectionTrouble } from '../api/errors.ts';
import { useClient, useReconnected } from '../api/hooks.ts';

export type TopicFilter = 'all' | 'mine' | 'subscribed';

const PAGE = 10;
const MAX_PAGES = 20;

export interface Topics {
  filter: TopicFilter;
  setFilter(filter: TopicFilter): void;
  list: Topic[];
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  subscribed: ReadonlySet<string>;
  mine: Topic[];
  names: ReadonlyMap<string, string>;
  /** Topic ids with a subscribe, unsubscribe or delete under way. */
  busy: ReadonlySet<string>;
  refresh(): Promise<void>;
  loadMore(): Promise<void>;
  /** Creates a topic; rejects with the call's error (the form shows it). */
  create(name: string, description: string): Promise<Topic>;
  remove(topic: Topic): Promise<void>;
  subscribe(topic: Topic): Promise<void>;
  unsubscribe(topic: Topic): Promise<void>;
}

function filterParams(filter: TopicFilter): RpcParams<'topics.list'> {
  return filter === 'mine' ? { mine: true } : filter === 'subscribed' ? { subscribed: true } : {};
}

export function useTopics(reportError: (error: unknown, what?: string) => void): Topics {
  const client = useClient();
  const [filter, setFilterState] = useState<TopicFilter>('all');
  const [list, setList] = useState<Topic[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [subscribed, setSubscribed] = useState<ReadonlySet<string>>(new Set());
  const [mine, setMine] = useState<Topic[]>([]);
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  // Answers to an older filter's request are dropped.
  const request = useRef(0);
  /** Whether a first page ever arrived; if not, a reconnect loads it. */
  const listLoaded = useRef(false);

  const learn = useCallback((topics: readonly Topic[]) => {
    if (!topics.length) return;
    setNames((current) => {
      const next = new Map(current);
      for (const topic of topics) next.set(topic.id, topic.name);
      return next;
    });
  }, []);

  /** Every page of a list (subscriptions, own topics), up to MAX_PAGES. */
  const everything = useCallback(
    async (params: RpcParams<'topics.list'>) => {
      const topics: Topic[] = [];
      let next: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const answer = await client.call('topics.list', { ...params, limit: 100, ...(next ? { cursor: next } : {}) });
        topics.push(...answer.topics);
        if (!answer.nextCursor) break;
        next = answer.nextCursor;
      }
      learn(topics);
      return topics;
    },
    [client, learn],
  );

  const loadFirst = useCallback(
    async (which: TopicFilter) => {
      const id = ++request.current;
      setLoading(true);
      try {
        const answer = await client.call('topics.list', { ...filterParams(which), limit: PAGE });
        if (id !== request.current) return;
        learn(answer.topics);
        setList(answer.topics);
        setCursor(answer.nextCursor);
        listLoaded.current = true;
      } catch (error) {
        if (id === request.current) reportError(error, 'Loading topics');
      } finally {
        if (id === request.current) setLoading(false);
      }
    },
    [client, learn, reportError],
  );

  const loadMemberships = useCallback(async () => {
    try {
      const [followed, own] = await Promise.all([everything({ subscribed: true }), everything({ mine: true })]);
      setSubscribed(new Set(followed.map((topic) => topic.id)));
      setMine(own);
    } catch (error) {
      // Lost the connection again: the next reconnect loads them once more.
      if (!isConnectionTrouble(error)) reportError(error, 'Loading your subscriptions');
    }
  }, [everything, reportError]);

  useEffect(() => {
    void loadFirst('all');
    void loadMemberships();
  }, [loadFirst, loadMemberships]);
  useReconnected(() => {
    void loadMemberships();
    if (!listLoaded.current) void loadFirst(filter);
  });

  const setFilter = useCallback(
    (next: TopicFilter) => {
      setFilterState(next);
      void loadFirst(next);
    },
    [loadFirst],
  );

  const refresh = useCallback(async () => {
    await Promise.all([loadFirst(filter), loadMemberships()]);
  }, [filter, loadFirst, loadMemberships]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    const id = request.current;
    setLoadingMore(true);
    try {
      const answer = await client.call('topics.list', { ...filterParams(filter), limit: PAGE, cursor });
      if (id !== request.current) return;
      learn(answer.topics);
      setList((current) => [...current, ...answer.topics.filter((topic) => !current.some((known) => known.id === topic.id))]);
      setCursor(answer.nextCursor);
    } catch (error) {
      reportError(error, 'Loading more topics');
    } finally {
      setLoadingMore(false);
    }
  }, [client, cursor, filter, learn, reportError]);

  /** One action on a topic: the topic shows busy meanwhile, and a failure is reported as `what “name”`. */
  const onTopic = useCallback(
    async (topic: Topic, what: string, work: () => Promise<void>) => {
      setBusy((current) => new Set([...current, topic.id]));
      try {
        await work();
      } catch (error) {
        reportError(error, `${what} “${topic.name}”`);
      } finally {
        setBusy((current) => new Set([...current].filter((id) => id !== topic.id)));
      }
    },
    [reportError],
  );

  const create = useCallback(
    async (name: string, description: string) => {
      const topic = await client.call('topics.create', { name, ...(description.trim() ? { description } : {}) });
      learn([topic]);
      setMine((current) => [topic, ...current]);
      if (filter !== 'subscribed') setList((current) => [topic, ...current.filter((known) => known.id !== topic.id)]);
      return topic;
    },
    [client, filter, learn],
  );

  const remove = useCallback(
    (topic: Topic) =>
      onTopic(topic, 'Deleting', async () => {
        await client.call('topics.delete', { topicId: topic.id });
        setList((current) => current.filter((known) => known.id !== topic.id));
        setMine((current) => current.filter((known) => known.id !== topic.id));
        setSubscribed((current) => new Set([...current].filter((id) => id !== topic.id)));
      }),
    [client, onTopic],
  );

  const subscribe = useCallback(
    (topic: Topic) =>
      onTopic(topic, 'Subscribing to', async () => {
        await client.call('topics.subscribe', { topicId: topic.id });
        setSubscribed((current) => new Set([...current, topic.id]));
      }),
    [client, onTopic],
  );

  const unsubscribe = useCallback(
    (topic: Topic) =>
      onTopic(topic, 'Unsubscribing from', async () => {
        await client.call('topics.unsubscribe', { topicId: topic.id });
        setSubscribed((current) => new Set([...current].filter((id) => id !== topic.id)));
        if (filter === 'subscribed') setList((current) => current.filter((known) => known.id !== topic.id));
      }),
    [client, filter, onTopic],
  );

  return { filter, setFilter, list, loading, loadingMore, hasMore: cursor !== null, subscribed, mine, names, busy, refresh, loadMore, create, remove, subscribe, unsubscribe };
}
