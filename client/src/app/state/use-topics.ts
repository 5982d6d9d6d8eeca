// Topics as the workspace needs them: the filtered list (all, mine, subscribed) with "load more",
// which topics the user follows and how (muted, email), the user's own topics (for publishing), and
// every name seen (for the feed; a topic not listed yet is looked up by id).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { RpcParams, Topic } from '@notify/lib/rpc';
import { isConnectionTrouble, RpcCallError } from '../api/errors.ts';
import { useClient, useReconnected } from '../api/hooks.ts';
import { settingsOf, type ListedTopic, type TopicSettings } from './shapes.ts';

export type TopicFilter = 'all' | 'mine' | 'subscribed';

const PAGE = 10;
const MAX_PAGES = 20;

export interface Topics {
  filter: TopicFilter;
  setFilter(filter: TopicFilter): void;
  list: ListedTopic[];
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  subscribed: ReadonlySet<string>;
  mine: ListedTopic[];
  names: ReadonlyMap<string, string>;
  /** Mute and email of followed topics, once known (from the list, or read when asked). */
  settings: ReadonlyMap<string, TopicSettings>;
  /** Whether the followed and own topics were loaded once (their names need no look-up). */
  ready: boolean;
  /** Topic ids with a subscribe, unsubscribe or delete under way. */
  busy: ReadonlySet<string>;
  refresh(): Promise<void>;
  loadMore(): Promise<void>;
  /** Creates a topic; rejects with the call's error (the form shows it). */
  create(name: string, description: string): Promise<ListedTopic>;
  remove(topic: Topic): Promise<void>;
  subscribe(topic: Topic): Promise<void>;
  unsubscribe(topic: Topic): Promise<void>;
  /** Looks up (topics.get) the names of topics not seen yet; each id is asked once. */
  resolveNames(topicIds: Iterable<string>): void;
  /** Reads a followed topic's mute and email settings (unless known). */
  loadSettings(topic: Topic): Promise<void>;
  /** Changes a followed topic's mute or email setting; rejects with the call's error. */
  updateSettings(topic: Topic, change: Partial<TopicSettings>): Promise<void>;
}

function filterParams(filter: TopicFilter): RpcParams<'topics.list'> {
  return filter === 'mine' ? { mine: true } : filter === 'subscribed' ? { subscribed: true } : {};
}

export function useTopics(reportError: (error: unknown, what?: string) => void): Topics {
  const client = useClient();
  const [filter, setFilterState] = useState<TopicFilter>('all');
  const [list, setList] = useState<ListedTopic[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [subscribed, setSubscribed] = useState<ReadonlySet<string>>(new Set());
  const [mine, setMine] = useState<ListedTopic[]>([]);
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [settings, setSettings] = useState<ReadonlyMap<string, TopicSettings>>(new Map());
  /** Topic ids whose name was looked up (or is being looked up). */
  const asked = useRef(new Set<string>());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [ready, setReady] = useState(false);
  // Answers to an older filter's request are dropped.
  const request = useRef(0);
  /** Whether a first page ever arrived; if not, a reconnect loads it. */
  const listLoaded = useRef(false);

  const learn = useCallback((topics: readonly Topic[]) => {
    if (!topics.length) return;
    for (const topic of topics) asked.current.add(topic.id);
    setNames((current) => {
      const next = new Map(current);
      for (const topic of topics) next.set(topic.id, topic.name);
      return next;
    });
    const known = topics.flatMap((topic) => {
      const found = settingsOf(topic);
      return found ? [[topic.id, found] as const] : [];
    });
    if (known.length) setSettings((current) => new Map([...current, ...known]));
  }, []);

  /** A topic's follower count moved by `by` (this user followed or left it). */
  const countFollower = useCallback((topicId: string, by: number) => {
    const move = (topic: ListedTopic) => (topic.id === topicId && topic.subscriberCount !== undefined ? { ...topic, subscriberCount: Math.max(0, topic.subscriberCount + by) } : topic);
    setList((current) => current.map(move));
    setMine((current) => current.map(move));
  }, []);

  /** Every page of a list (subscriptions, own topics), up to MAX_PAGES. */
  const everything = useCallback(
    async (params: RpcParams<'topics.list'>) => {
      const topics: ListedTopic[] = [];
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
    } finally {
      setReady(true);
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
        const subscription = await client.call('topics.subscribe', { topicId: topic.id });
        setSubscribed((current) => new Set([...current, topic.id]));
        countFollower(topic.id, 1);
        const found = settingsOf(subscription);
        if (found) setSettings((current) => new Map([...current, [topic.id, found]]));
      }),
    [client, countFollower, onTopic],
  );

  const unsubscribe = useCallback(
    (topic: Topic) =>
      onTopic(topic, 'Unsubscribing from', async () => {
        await client.call('topics.unsubscribe', { topicId: topic.id });
        setSubscribed((current) => new Set([...current].filter((id) => id !== topic.id)));
        countFollower(topic.id, -1);
        setSettings((current) => new Map([...current].filter(([id]) => id !== topic.id)));
        if (filter === 'subscribed') setList((current) => current.filter((known) => known.id !== topic.id));
      }),
    [client, countFollower, filter, onTopic],
  );

  const resolveNames = useCallback(
    (topicIds: Iterable<string>) => {
      for (const topicId of new Set(topicIds)) {
        if (asked.current.has(topicId)) continue;
        asked.current.add(topicId);
        client.call('topics.get', { topicId }).then(
          (topic) => learn([topic]),
          (error: unknown) => {
            // A deleted topic keeps its placeholder; a dropped connection asks again on the next look.
            if (isConnectionTrouble(error)) asked.current.delete(topicId);
            else if (!(error instanceof RpcCallError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN'))) reportError(error, 'Looking up a topic');
          },
        );
      }
    },
    [client, learn, reportError],
  );

  // topics.preferences without a change answers the subscription as it is.
  const loadSettings = useCallback(
    async (topic: Topic) => {
      if (settings.has(topic.id)) return;
      try {
        const { muted, email } = await client.call('topics.preferences', { topicId: topic.id });
        setSettings((current) => new Map([...current, [topic.id, { muted, email }]]));
      } catch (error) {
        reportError(error, `Reading your settings for “${topic.name}”`);
      }
    },
    [client, reportError, settings],
  );

  const updateSettings = useCallback(
    async (topic: Topic, change: Partial<TopicSettings>) => {
      // Shown at once (a checkbox follows the click), then set to what the gateway answered; put
      // back as it was when the change is refused.
      const before = settings.get(topic.id);
      if (before) setSettings((current) => new Map([...current, [topic.id, { ...before, ...change }]]));
      try {
        const { muted, email } = await client.call('topics.preferences', { topicId: topic.id, ...change });
        setSettings((current) => new Map([...current, [topic.id, { muted, email }]]));
      } catch (error) {
        if (before) setSettings((current) => new Map([...current, [topic.id, before]]));
        throw error;
      }
    },
    [client, settings],
  );

  return {
    filter,
    setFilter,
    list,
    loading,
    loadingMore,
    hasMore: cursor !== null,
    subscribed,
    mine,
    names,
    settings,
    ready,
    busy,
    refresh,
    loadMore,
    create,
    remove,
    subscribe,
    unsubscribe,
    resolveNames,
    loadSettings,
    updateSettings,
  };
}
