// The live notification feed: the Unread / All / Archived views with "load more", pushes merged in as
// they come, the unread count from `counter` pushes, ack one, mark all read in one call, archive and
// unarchive, finding one notification by id (the email's link), a catch-up after every reconnect, and
// the person's own notifications always showing their current avatar.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notification, RpcParams } from '@notify/lib/rpc';
import { isConnectionTrouble, RpcCallError } from '../api/errors.ts';
import { useClient, usePush, useReconnected } from '../api/hooks.ts';
import { mergeNotifications, withOwnAvatar, type OwnAvatar } from './merge.ts';
import type { FeedNotification } from './shapes.ts';

const PAGE = 20;
/** Most unread notifications read in one catch-up (100 per page). */
const MAX_UNREAD_PAGES = 20;
/** Most pages (100 each) searched for a notification opened by its link, per view. */
const MAX_FIND_PAGES = 10;

export type FeedFilter = 'unread' | 'all' | 'archived';

export interface CatchUp {
  at: number;
  /** Notifications that were not in the feed before (the note clears itself after a while). */
  added: number;
}

export interface Feed {
  filter: FeedFilter;
  setFilter(filter: FeedFilter): void;
  notifications: FeedNotification[];
  /** Unread count as counter says (null until known). */
  unread: number | null;
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  /** Ids that arrived live or by catch-up, highlighted for a while. */
  fresh: ReadonlySet<string>;
  acking: ReadonlySet<string>;
  /** Ids with an archive or unarchive under way. */
  archiving: ReadonlySet<string>;
  ackingAll: boolean;
  lastCatchUp: CatchUp | null;
  loadMore(): Promise<void>;
  ack(notificationId: string): Promise<void>;
  ackAll(): Promise<void>;
  archive(notificationId: string, archived: boolean): Promise<void>;
  /** Finds a notification by id (loaded, or page by page in the inbox, then the archive) and shows it; null when not found. */
  find(notificationId: string): Promise<FeedNotification | null>;
  catchUp(): Promise<void>;
}

function filterParams(filter: FeedFilter): RpcParams<'notifications.list'> {
  return filter === 'unread' ? { unreadOnly: true } : filter === 'archived' ? { archived: true } : {};
}

/** `own`: the person and their current avatar URL, which their own notifications show. */
export function useFeed(reportError: (error: unknown, what?: string) => void, own: OwnAvatar): Feed {
  const client = useClient();
  const [filter, setFilterState] = useState<FeedFilter>('all');
  const [notifications, setNotifications] = useState<FeedNotification[]>([]);
  const [unread, setUnread] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [cursor, setCursor] = useState<string | null>(null);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [acking, setAcking] = useState<ReadonlySet<string>>(new Set());
  const [archiving, setArchiving] = useState<ReadonlySet<string>>(new Set());
  const [ackingAll, setAckingAll] = useState(false);
  const [lastCatchUp, setLastCatchUp] = useState<CatchUp | null>(null);
  const ackedHere = useRef(new Set<string>());
  const known = useRef(new Set<string>());
  /** Whether the current view's first page ever arrived (else a catch-up stands in for it, cursor included). */
  const firstPageLoaded = useRef(false);
  /** The view the shown list belongs to; answers for an older view are dropped. */
  const view = useRef<{ filter: FeedFilter; request: number }>({ filter: 'all', request: 0 });
  const notificationsNow = useRef<FeedNotification[]>([]);
  useEffect(() => {
    notificationsNow.current = notifications;
  }, [notifications]);
  const ownNow = useRef(own);
  const { userId, avatarUrl } = own;
  // A new avatar: the person's own notifications already shown change too; merged ones get it below.
  useEffect(() => {
    ownNow.current = { userId, avatarUrl };
    setNotifications((current) => withOwnAvatar(current, { userId, avatarUrl }) as FeedNotification[]);
  }, [avatarUrl, userId]);

  const merge = useCallback((incoming: readonly Notification[], highlight: boolean) => {
    // The same notification may come twice in one batch (the newest page and the unread ones).
    const added: FeedNotification[] = [];
    const all = incoming;
    for (const notification of all) {
      if (known.current.has(notification.id)) continue;
      known.current.add(notification.id);
      added.push(notification);
    }
    setNotifications((current) => mergeNotifications(current, withOwnAvatar(all, ownNow.current), ackedHere.current));
    if (highlight && added.length) {
      const ids = added.map((notification) => notification.id);
      setFresh((current) => new Set([...current, ...ids]));
      setTimeout(() => setFresh((current) => new Set([...current].filter((id) => !ids.includes(id)))), 6_000);
    }
    return added.length;
  }, []);

  const drop = useCallback((ids: readonly string[]) => {
    for (const id of ids) known.current.delete(id);
    setNotifications((current) => current.filter((notification) => !ids.includes(notification.id)));
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

  const loadFirst = useCallback(
    async (which: FeedFilter) => {
      const request = view.current.request + 1;
      view.current = { filter: which, request };
      known.current = new Set();
      firstPageLoaded.current = false;
      setNotifications([]);
      setCursor(null);
      setLoading(true);
      try {
        const page = await client.call('notifications.list', { ...filterParams(which), limit: PAGE });
        if (view.current.request !== request) return;
        merge(page.notifications, false);
        setCursor(page.nextCursor);
        firstPageLoaded.current = true;
      } catch (error) {
        if (view.current.request === request) reportError(error, 'Loading your notifications');
      } finally {
        if (view.current.request === request) setLoading(false);
      }
    },
    [client, merge, reportError],
  );

  useEffect(() => {
    void loadFirst('all');
    client.call('counters.get', {}).then(
      ({ unread: count }) => setUnread(count),
      (error: unknown) => reportError(error, 'Loading your unread count'),
    );
  }, [client, loadFirst, reportError]);

  const setFilter = useCallback(
    (next: FeedFilter) => {
      setFilterState(next);
      void loadFirst(next);
    },
    [loadFirst],
  );

  // New notifications are in the inbox, never in the archive.
  usePush('notification', (notification) => {
    if (view.current.filter !== 'archived') merge([notification], true);
  });
  usePush('counter', ({ unread: count }) => setUnread(count));

  // Pushes missed while disconnected are in persist: the newest page (and every unread one), the count.
  const catchUp = useCallback(async () => {
    const { filter: which, request } = view.current;
    try {
      const [page, unreadOnes, counter] = await Promise.all([
        client.call('notifications.list', { ...filterParams(which), limit: PAGE }),
        which === 'archived' ? Promise.resolve([]) : allUnread(),
        client.call('counters.get', {}),
      ]);
      setUnread(counter.unread);
      if (view.current.request !== request) return;
      const added = merge([...page.notifications, ...unreadOnes], true);
      if (!firstPageLoaded.current) {
        firstPageLoaded.current = true;
        setCursor(page.nextCursor);
        setLoading(false);
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
    const { filter: which, request } = view.current;
    setLoadingMore(true);
    try {
      const page = await client.call('notifications.list', { ...filterParams(which), limit: PAGE, cursor });
      if (view.current.request !== request) return;
      merge(page.notifications, false);
      setCursor(page.nextCursor);
    } catch (error) {
      reportError(error, 'Loading more notifications');
    } finally {
      setLoadingMore(false);
    }
  }, [client, cursor, merge, reportError]);

  const markRead = useCallback((ids: readonly string[]) => {
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

  // One call marks every unread notification read at the gateway (loaded or not); the ones on screen
  // when it was asked are shown read, and the count is the answer's (the counter push confirms it).
  const ackAll = useCallback(async () => {
    const shown = notificationsNow.current.filter((notification) => !notification.read).map((notification) => notification.id);
    setAckingAll(true);
    try {
      const { unread: count } = await client.call('notifications.readAll', {});
      markRead(shown);
      setUnread(count);
      if (view.current.filter === 'unread') drop(shown);
    } catch (error) {
      reportError(error, 'Marking everything as read');
    } finally {
      setAckingAll(false);
    }
  }, [client, drop, markRead, reportError]);

  // An archived notification leaves the inbox views; an unarchived one leaves the archive.
  const archive = useCallback(
    async (notificationId: string, archived: boolean) => {
      setArchiving((current) => new Set([...current, notificationId]));
      try {
        const { unread: count } = await client.call('notifications.archive', { notificationId, archived });
        if (count !== null) setUnread(count);
        if ((view.current.filter === 'archived') !== archived) drop([notificationId]);
        else setNotifications((current) => current.map((notification) => (notification.id === notificationId ? { ...notification, archived } : notification)));
      } catch (error) {
        reportError(error, archived ? 'Archiving the notification' : 'Moving the notification back to the inbox');
      } finally {
        setArchiving((current) => new Set([...current].filter((id) => id !== notificationId)));
      }
    },
    [client, drop, reportError],
  );

  const find = useCallback(
    async (notificationId: string) => {
      const loaded = notificationsNow.current.find((notification) => notification.id === notificationId);
      if (loaded) return loaded;
      // Inbox first (All), then the archive: the view where it is found is the one shown.
      for (const which of ['all', 'archived'] as const) {
        let next: string | undefined;
        for (let page = 0; page < MAX_FIND_PAGES; page += 1) {
          const answer = await client.call('notifications.list', { ...filterParams(which), limit: 100, ...(next ? { cursor: next } : {}) });
          const found = answer.notifications.find((notification) => notification.id === notificationId);
          if (found) {
            if (view.current.filter !== which) {
              setFilterState(which);
              await loadFirst(which);
            }
            merge([found], false);
            return found;
          }
          if (!answer.nextCursor) break;
          next = answer.nextCursor;
        }
      }
      return null;
    },
    [client, loadFirst, merge],
  );

  return {
    filter,
    setFilter,
    notifications,
    unread,
    loading,
    loadingMore,
    hasMore: cursor !== null,
    fresh,
    acking,
    archiving,
    ackingAll,
    lastCatchUp,
    loadMore,
    ack,
    ackAll,
    archive,
    find,
    catchUp,
  };
}
