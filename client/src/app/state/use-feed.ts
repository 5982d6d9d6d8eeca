// The live notification feed: first page and "load more", pushes merged in as they come, the unread
// count from `counter` pushes, ack one / ack all, and a catch-up after every reconnect.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notification } from '@notify/lib/rpc';
import { isConnectionTrouble, RpcCallError } from '../api/errors.ts';
import { useClient, usePush, useReconnected } from '../api/hooks.ts';
import { mergeNotifications } from './merge.ts';

const PAGE = 20;
/** Most unread notifications read in one catch-up or ack-all (100 per page). */
const MAX_UNREAD_PAGES = 20;
const ACK_ALL_CONCURRENCY = 4;

export interface CatchUp {
  at: number;
  /** Notifications that were not in the feed before (the note clears itself after a while). */
  added: number;
}

export interface Feed {
  notifications: Notification[];
  /** Unread count as counter says (null until known). */
  unread: number | null;
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  /** Ids that arrived live or by catch-up, highlighted for a while. */
  fresh: ReadonlySet<string>;
  acking: ReadonlySet<string>;
  ackingAll: { done: number; total: number } | null;
  lastCatchUp: CatchUp | null;
  loadMore(): Promise<void>;
  ack(notificationId: string): Promise<void>;
  ackAll(): Promise<void>;
  catchUp(): Promise<void>;
}

export function useFeed(reportError: (error: unknown, what?: string) => void): Feed {
  const client = useClient();
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [unread, setUnread] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [cursor, setCursor] = useState<string | null>(null);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [acking, setAcking] = useState<ReadonlySet<string>>(new Set());
  const [ackingAll, setAckingAll] = useState<{ done: number; total: number } | null>(null);
  const [lastCatchUp, setLastCatchUp] = useState<CatchUp | null>(null);
  const ackedHere = useRef(new Set<string>());
  const known = useRef(new Set<string>());
  /** Whether the first page ever arrived (else a catch-up stands in for it, cursor included). */
  const firstPageLoaded = useRef(false);

  const merge = useCallback((incoming: readonly Notification[], highlight: boolean) => {
    // The same notification may come twice in one batch (the newest page and the unread ones).
    const added: Notification[] = [];
    for (const notification of incoming) {
      if (known.current.has(notification.id)) continue;
      known.current.add(notification.id);
      added.push(notification);
    }
    setNotifications((current) => mergeNotifications(current, incoming, ackedHere.current));
    if (highlight && added.length) {
      const ids = added.map((notification) => notification.id);
      setFresh((current) => new Set([...current, ...ids]));
      setTimeout(() => setFresh((current) => new Set([...current].filter((id) => !ids.includes(id)))), 6_000);
    }
    return added.length;
  }, []);

  /** Every unread notification (not only the loaded ones), up to MAX_UNREAD_PAGES pages. */
  const allUnread = useCallback(async () => {
    const found: Notification[] = [];
    let next: string | undefined;
    for (let page = 0; page < MAX_UNREAD_PAGES; page += 1) {
      const { notifications: items, nextCursor } = await client.call('notifications.list', { unreadOnly: true, limit: 100, ...(next ? { cursor: next } : {}) });
      found.push(...items);
      if (!nextCursor) break;
      next = nextCursor;
    }
    return found;
  }, [client]);

  useEffect(() => {
    let cancelled = false;
    Promise.all([client.call('notifications.list', { limit: PAGE }), client.call('counters.get', {})])
      .then(([page, counter]) => {
        if (cancelled) return;
        merge(page.notifications, false);
        setCursor(page.nextCursor);
        setUnread(counter.unread);
        firstPageLoaded.current = true;
      })
      .catch((error: unknown) => !cancelled && reportError(error, 'Loading your notifications'))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [client, merge, reportError]);

  usePush('notification', (notification) => {
    merge([notification], true);
  });
  usePush('counter', ({ unread: count }) => setUnread(count));

  // Pushes missed while disconnected are in persist: the newest page, every unread one, the count.
  const catchUp = useCallback(async () => {
    try {
      const [page, unreadOnes, counter] = await Promise.all([client.call('notifications.list', { limit: PAGE }), allUnread(), client.call('counters.get', {})]);
      const added = merge([...page.notifications, ...unreadOnes], true);
      setUnread(counter.unread);
      if (!firstPageLoaded.current) {
        firstPageLoaded.current = true;
        setCursor(page.nextCursor);
      }
      const at = Date.now();
      setLastCatchUp({ at, added });
      setTimeout(() => setLastCatchUp((current) => (current?.at === at ? null : current)), 12_000);
    } catch (error) {
      // Lost the connection again: the next reconnect catches up once more.
      if (!isConnectionTrouble(error)) reportError(error, 'Catching up after the reconnect');
    }
  }, [allUnread, client, merge, reportError]);
  useReconnected(() => void catchUp());

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await client.call('notifications.list', { limit: PAGE, cursor });
      merge(page.notifications, false);
      setCursor(page.nextCursor);
    } catch (error) {
      reportError(error, 'Loading more notifications');
    } finally {
      setLoadingMore(false);
    }
  }, [client, cursor, merge, reportError]);

  const markRead = useCallback((ids: string[]) => {
    const now = new Date().toISOString();
    for (const id of ids) ackedHere.current.add(id);
    setNotifications((current) => current.map((notification) => (ids.includes(notification.id) && !notification.read ? { ...notification, read: true, ackedAt: now } : notification)));
  }, []);

  const ack = useCallback(
    async (notificationId: string) => {
      setAcking((current) => new Set([...current, notificationId]));
      try {
        const { unread: count } = await client.call('notifications.ack', { notificationId });
        markRead([notificationId]);
        // null: acknowledged, but the count could not be read just then; the counter push brings it.
        if (count !== null) setUnread(count);
      } catch (error) {
        // Already acknowledged (elsewhere, or a repeated click): it is read, which is what was asked.
        if (error instanceof RpcCallError && error.code === 'CONFLICT') {
          markRead([notificationId]);
          client.call('counters.get', {}).then(({ unread: count }) => setUnread(count), () => undefined);
        } else reportError(error, 'Marking the notification as read');
      } finally {
        setAcking((current) => new Set([...current].filter((id) => id !== notificationId)));
      }
    },
    [client, markRead, reportError],
  );

  const ackAll = useCallback(async () => {
    try {
      const ids = (await allUnread()).map((notification) => notification.id);
      setAckingAll({ done: 0, total: ids.length });
      let done = 0;
      const queue = [...ids];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          await client.call('notifications.ack', { notificationId: id });
          markRead([id]);
          done += 1;
          setAckingAll({ done, total: ids.length });
        }
      };
      await Promise.all(Array.from({ length: ACK_ALL_CONCURRENCY }, worker));
    } catch (error) {
      reportError(error, 'Marking everything as read');
    } finally {
      setAckingAll(null);
      // Acks answered out of order may have left an older count on screen: ask once more.
      client.call('counters.get', {}).then(({ unread: count }) => setUnread(count), () => undefined);
    }
  }, [allUnread, client, markRead, reportError]);

  return { notifications, unread, loading, loadingMore, hasMore: cursor !== null, fresh, acking, ackingAll, lastCatchUp, loadMore, ack, ackAll, catchUp };
}
