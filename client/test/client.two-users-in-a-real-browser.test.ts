// The React client in a real Chromium against the real system (discovery, auth ×2, persist, counter,
// gateway, avatar as processes): two people register, one creates a topic and publishes, the other
// follows it live, acks, goes offline, misses two publications and catches up when back online, and
// rides out a gateway restart through socket.io's own reconnects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { socketIoClient } from '../../gateway/test/helper.ts';
import {
  browserWorld,
  createTopic,
  eventually,
  expectAttribute,
  expectConnection,
  expectCount,
  expectTabSwitch,
  expectText,
  feedTitles,
  loadedImageWidth,
  login,
  person,
  publish,
  register,
  topicRow,
  unreadBadge,
} from './helper.ts';

test('two users in a real browser: topics, live notifications, acks, offline catch-up, friendly errors', { timeout: 600_000 }, async (t) => {
  const world = await browserWorld(t, 'two-users');
  if (!world) return;
  const { system, shot, pageErrors, open } = world;
  const gateway = system.gateways[0]!;
  const { page: pageA } = await open();
  const { context: contextB, page: pageB } = await open();

  try {
    // A and B register; each sees a profile with a real avatar image from the avatar service.
    const ada = person('Ada');
    const bob = person('Bob');
    await shot(pageA, 'login-screen');
    // The Log in / Register switch shows which is chosen, both ways round, in one row.
    const authTabs = pageA.getByRole('tablist');
    await expectTabSwitch(authTabs);
    await pageA.getByTestId('auth-tab-register').click();
    await expectTabSwitch(authTabs);
    await pageA.getByTestId('auth-tab-login').click();
    await expectTabSwitch(authTabs);
    await register(pageA, ada);
    await expectText(pageA.getByTestId('profile-email'), ada.email);
    assert.ok((await loadedImageWidth(pageA.getByTestId('profile-avatar'))) > 0, 'A’s avatar image loaded');
    assert.match((await pageA.getByTestId('profile-avatar').getAttribute('src')) ?? '', new RegExp(`^${gateway.url}/avatars/[^/?]+\\?(v=[0-9a-z]+&)?size=64$`));
    await shot(pageA, 'a-registered');
    await register(pageB, bob);
    assert.ok((await loadedImageWidth(pageB.getByTestId('profile-avatar'))) > 0, 'B’s avatar image loaded');
    await expectText(pageB.getByTestId('feed-empty'), 'No notifications yet');
    await expectText(unreadBadge(pageB), /^0$/);
    await shot(pageB, 'b-registered');

    // A creates a topic; creating it again is refused in words a person understands.
    const topic = `deploys-${Math.random().toString(36).slice(2, 7)}`;
    await createTopic(pageA, topic, 'Every production deploy, as it happens');
    await topicRow(pageA, topic).waitFor();
    await expectText(topicRow(pageA, topic), 'yours');
    await createTopic(pageA, topic);
    await expectText(pageA.getByTestId('topic-create-error'), 'A topic with this name already exists');
    await shot(pageA, 'a-topic-created-and-duplicate-refused');

    // B finds it (refresh), subscribes; the filter "Subscribed" shows it.
    await pageB.getByTestId('topics-refresh').click();
    await topicRow(pageB, topic).getByTestId('topic-subscribe').click();
    await topicRow(pageB, topic).getByTestId('topic-unsubscribe').waitFor();
    await pageB.getByTestId('topics-filter-subscribed').click();
    await expectTabSwitch(pageB.getByRole('tablist', { name: 'Which topics' }));
    await expectCount(pageB.getByTestId('topic-row'), 1);
    await expectText(pageB.getByTestId('topic-list'), topic);
    await shot(pageB, 'b-subscribed');

    // A publishes; B's feed shows it live with the badge at 1.
    await publish(pageA, topic, 'Deploy 1 finished', 'api v1.0.0 is live');
    await expectText(pageA.getByTestId('publish-result'), 'to 1 subscriber');
    await shot(pageA, 'a-published');
    await expectText(pageB.getByTestId('feed-list'), 'Deploy 1 finished');
    await expectText(unreadBadge(pageB), /^1$/);
    await expectText(pageB.getByTestId('notification-item').first(), `#${topic}`);
    await shot(pageB, 'b-live-notification');

    // B opens its lifecycle trace: prepared, committed, delivered to B's connection.
    await pageB.getByTestId('notification-title').first().click();
    const dialog = pageB.getByTestId('trace-dialog');
    await dialog.waitFor();
    await eventually(
      'trace events',
      () => dialog.getByTestId('trace-event').evaluateAll((items) => items.map((item) => item.getAttribute('data-type'))),
      (types) => ['prepared', 'committed', 'delivered'].every((type) => types.includes(type)),
    );
    await expectText(dialog, 'Pushed to you over socket.io');
    await shot(pageB, 'b-trace');
    await dialog.getByTestId('trace-close').click();
    await expectCount(dialog, 0);

    // B acks: the badge drops to 0.
    await pageB.getByTestId('notification-ack').first().click();
    await expectText(unreadBadge(pageB), /^0$/);
    // The badge follows the counter push; the item is marked read by the ack's answer, which may come later.
    await expectAttribute(pageB.getByTestId('notification-item'), 'data-read', 'true');
    await shot(pageB, 'b-acked');

    // B goes offline: the app notices and drops its connection; A publishes twice meanwhile.
    await contextB.setOffline(true);
    await expectConnection(pageB, 'offline');
    await shot(pageB, 'b-offline');
    await publish(pageA, topic, 'Deploy 2 finished', 'api v1.0.1 is live');
    await publish(pageA, topic, 'Deploy 3 finished', 'api v1.0.2 is live');
    await shot(pageA, 'a-published-twice');
    // Pushes arrive in milliseconds on a live connection: a second of silence means B really is offline.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(await feedTitles(pageB), ['Deploy 1 finished'], 'nothing reaches B while offline');
    await expectText(unreadBadge(pageB), /^0$/);

    // Back online: reconnected, the feed catches up on both (newest first, no duplicates), badge 2.
    await contextB.setOffline(false);
    await expectConnection(pageB, 'connected');
    await eventually('B’s feed after the catch-up', () => feedTitles(pageB), (titles) => titles.length === 3);
    assert.deepEqual(await feedTitles(pageB), ['Deploy 3 finished', 'Deploy 2 finished', 'Deploy 1 finished']);
    await expectText(unreadBadge(pageB), /^2$/);
    await expectText(pageB.getByTestId('feed-catch-up'), '2 notifications arrived while you were away');
    await shot(pageB, 'b-back-online-caught-up');

    // A reload keeps B logged in (token in localStorage, sent in the handshake); the feed is the same.
    await pageB.reload();
    await expectText(pageB.getByTestId('profile-name'), bob.name);
    await expectConnection(pageB, 'connected');
    await eventually('B’s feed after the reload', () => feedTitles(pageB), (titles) => titles.length === 3);
    await expectText(unreadBadge(pageB), /^2$/);

    // Mark all read.
    await pageB.getByTestId('feed-ack-all').click();
    await expectText(unreadBadge(pageB), /^0$/);
    await expectCount(pageB.locator('[data-testid="notification-item"][data-read="false"]'), 0);
    await shot(pageB, 'b-all-read');

    // The gateway restarts: socket.io reconnects by itself (with the token in the handshake); what A
    // published meanwhile through another gateway is caught up.
    const gateway2 = await system.startGateway({ INSTANCE_ID: 'gateway-2' });
    const tokenA = await pageA.evaluate(() => localStorage.getItem('notify.token'));
    assert.ok(tokenA, 'A’s token is kept in localStorage');
    await gateway.stop();
    await expectConnection(pageB, 'reconnecting');
    await expectText(pageB.getByTestId('feed-paused'), 'reconnecting');
    await shot(pageB, 'b-gateway-down-reconnecting');
    const viaOther = await socketIoClient(gateway2, tokenA, t);
    const [mineA] = (await viaOther.call('topics.list', { mine: true })).topics;
    await viaOther.call('notifications.publish', { topicId: mineA!.id, title: 'Deploy 4 finished', body: 'published while gateway-1 restarted' });
    await system.startGateway({ INSTANCE_ID: 'gateway-1', PORT: String(gateway.port) });
    await expectConnection(pageB, 'connected', 20_000);
    await expectText(pageB.getByTestId('feed-list'), 'Deploy 4 finished');
    await expectText(unreadBadge(pageB), /^1$/);
    await expectText(pageB.getByTestId('feed-catch-up'), '1 notification arrived while you were away');
    await expectConnection(pageA, 'connected', 20_000);
    await shot(pageB, 'b-gateway-back-caught-up');

    // A logs out; a wrong password is refused in plain words; the right one gets A back in.
    await pageA.getByTestId('logout-button').click();
    await expectText(pageA.getByTestId('auth-notice'), 'logged out');
    assert.equal(await pageA.evaluate(() => localStorage.getItem('notify.token')), null, 'logout forgets the token');
    // A token the gateway refuses (revoked, expired, garbage) sends the person to the login screen.
    await pageA.evaluate((token) => localStorage.setItem('notify.token', token), tokenA);
    await pageA.reload();
    await expectText(pageA.getByTestId('auth-notice'), 'Your session has ended');
    await expectConnection(pageA, 'connected');
    await login(pageA, { email: ada.email, password: 'not the password' });
    await expectText(pageA.getByTestId('auth-error'), 'don’t match an account');
    await shot(pageA, 'a-wrong-password');
    await login(pageA, ada);
    await expectText(pageA.getByTestId('profile-name'), ada.name);
    await pageA.getByTestId('topics-filter-mine').click();
    await expectText(pageA.getByTestId('topic-list'), topic);
    await shot(pageA, 'a-logged-in-again');

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  } catch (error) {
    await Promise.allSettled([shot(pageA, 'FAILED-a'), shot(pageB, 'FAILED-b')]);
    throw error;
  }
});
