// The logged-in screen: profile and publish on the side, topics in the middle, the live feed on the right,
// and the trace dialog over them.
import { useCallback, useEffect, useState } from 'react';
import type { Notification } from '@notify/lib/rpc';
import { useSession } from '../state/session.ts';
import { useFeed } from '../state/use-feed.ts';
import { useTopics } from '../state/use-topics.ts';
import { NotificationFeed } from './NotificationFeed.tsx';
import { ProfileCard } from './ProfileCard.tsx';
import { PublishForm } from './PublishForm.tsx';
import { TopicsPanel } from './TopicsPanel.tsx';
import { TraceDialog } from './TraceDialog.tsx';

export function Workspace() {
  const { user, reportError } = useSession();
  const topics = useTopics(reportError);
  const feed = useFeed(reportError);
  const [publishTopicId, setPublishTopicId] = useState('');
  const [focusRequest, setFocusRequest] = useState(0);
  const [tracing, setTracing] = useState<Notification | null>(null);
  const closeTrace = useCallback(() => setTracing(null), []);

  useEffect(() => {
    document.title = feed.unread ? `(${feed.unread}) Notify` : 'Notify';
  }, [feed.unread]);

  const publishTo = (topicId: string) => {
    setPublishTopicId(topicId);
    setFocusRequest((count) => count + 1);
  };

  return (
    <main className="workspace">
      <aside className="column column-side">
        <ProfileCard />
        <PublishForm mine={topics.mine} topicId={publishTopicId} onTopicChange={setPublishTopicId} focusRequest={focusRequest} onOpenTrace={setTracing} />
      </aside>
      <div className="column column-main">
        <TopicsPanel topics={topics} onPublish={publishTo} />
      </div>
      <div className="column column-feed">
        <NotificationFeed feed={feed} topicNames={topics.names} onOpen={setTracing} />
      </div>
      {tracing && <TraceDialog notification={tracing} topicName={topics.names.get(tracing.topicId)} userId={user.id} onClose={closeTrace} />}
    </main>
  );
}
