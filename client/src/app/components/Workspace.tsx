// The logged-in screen: profile and publish on the side, topics in the middle, the live feed on the
// right; the trace, settings and API keys dialogs over them; and the notification a link opened
// (`?notification=<id>`, as in every notification email), found, scrolled to and highlighted.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notification } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useSession } from '../state/session.ts';
import { useFeed } from '../state/use-feed.ts';
import { useTopics } from '../state/use-topics.ts';
import { ApiKeysDialog } from './ApiKeysDialog.tsx';
import { NotificationFeed } from './NotificationFeed.tsx';
import { ProfileCard } from './ProfileCard.tsx';
import { PublishForm } from './PublishForm.tsx';
import { SettingsDialog } from './SettingsDialog.tsx';
import { useToasts } from './Toasts.tsx';
import { TopicsPanel } from './TopicsPanel.tsx';
import { TraceDialog } from './TraceDialog.tsx';

const LINK_PARAM = 'notification';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The notification id the page was opened with, if any. */
function linkedNotification(): string | null {
  return new URLSearchParams(location.search).get(LINK_PARAM);
}

/** Drops the id from the address bar, so a reload does not jump to it again. */
function forgetLinkedNotification(): void {
  const url = new URL(location.href);
  url.searchParams.delete(LINK_PARAM);
  history.replaceState(history.state, '', url);
}

export function Workspace() {
  const { user, reportError } = useSession();
  const toasts = useToasts();
  const topics = useTopics(reportError);
  const feed = useFeed(reportError, { userId: user.id, avatarUrl: user.avatarUrl });
  const [publishTopicId, setPublishTopicId] = useState('');
  const [focusRequest, setFocusRequest] = useState(0);
  const [tracing, setTracing] = useState<Notification | null>(null);
  const [dialog, setDialog] = useState<'settings' | 'api-keys' | null>(null);
  const [targetedId, setTargetedId] = useState<string | null>(null);
  const linkHandled = useRef(false);
  const closeTrace = useCallback(() => setTracing(null), []);
  const closeDialog = useCallback(() => setDialog(null), []);

  useEffect(() => {
    document.title = feed.unread ? `(${feed.unread}) Notify` : 'Notify';
  }, [feed.unread]);

  // A notification from a topic not listed here (followed elsewhere since) gets its topic's real name.
  const { ready: topicsReady, resolveNames } = topics;
  useEffect(() => {
    if (topicsReady) resolveNames(feed.notifications.map((notification) => notification.topicId));
  }, [feed.notifications, resolveNames, topicsReady]);

  // Opened by a notification's link: once the first page is in, find it (paging if needed) and show it.
  const { loading: feedLoading, find } = feed;
  useEffect(() => {
    if (feedLoading || linkHandled.current) return;
    const wanted = linkedNotification();
    if (wanted === null) return;
    linkHandled.current = true;
    forgetLinkedNotification();
    if (!UUID.test(wanted)) {
      toasts.show('error', 'That link doesn’t point to a notification.', 'Opening a notification');
      return;
    }
    find(wanted).then(
      (found) => {
        if (found) setTargetedId(found.id);
        else toasts.show('info', 'That notification isn’t in your feed (it may have been deleted, or sent to someone else).', 'Opening a notification');
      },
      (error: unknown) => toasts.show('error', friendlyError(error), 'Opening a notification'),
    );
  }, [feedLoading, find, toasts]);

  const publishTo = (topicId: string) => {
    setPublishTopicId(topicId);
    setFocusRequest((count) => count + 1);
  };

  const open = (notification: Notification) => {
    setTargetedId(null);
    setTracing(notification);
  };

  return (
    <main className="workspace">
      <aside className="column column-side">
        <ProfileCard onOpenSettings={() => setDialog('settings')} onOpenApiKeys={() => setDialog('api-keys')} />
        <PublishForm mine={topics.mine} topicId={publishTopicId} onTopicChange={setPublishTopicId} focusRequest={focusRequest} onOpenTrace={setTracing} />
      </aside>
      <div className="column column-main">
        <TopicsPanel topics={topics} onPublish={publishTo} />
      </div>
      <div className="column column-feed">
        <NotificationFeed feed={feed} topicNames={topics.names} targetedId={targetedId} onOpen={open} />
      </div>
      {tracing && <TraceDialog notification={tracing} topicName={topics.names.get(tracing.topicId)} userId={user.id} onClose={closeTrace} />}
      {dialog === 'settings' && <SettingsDialog onClose={closeDialog} />}
      {dialog === 'api-keys' && <ApiKeysDialog onClose={closeDialog} />}
    </main>
  );
}
