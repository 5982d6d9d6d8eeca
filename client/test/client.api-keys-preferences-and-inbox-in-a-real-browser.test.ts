// The React client in a real Chromium against the real system: a publisher creates and revokes an
// API key (its secret shown once); a follower mutes a topic and turns its email off, sets the email
// digest in the settings dialog, marks everything read in one call, archives and finds it under
// "Archived", follows a notification's action link, and opens a notification from its email link
// (`?notification=<id>`) before logging in. The publisher sends to chosen followers only, with a link.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { register as registerOverApi, socketIoClient } from '../../gateway/test/helper.ts';
import {
  browserWorld,
  createTopic,
  eventually,
  expectAttribute,
  expectConnection,
  expectCount,
  expectText,
  login,
  person,
  publish,
  register,
  topicRow,
  unreadBadge,
} from './helper.ts';

test('API keys, topic and email preferences, one-call mark all read, archive, action links and email links in a real browser', { timeout: 600_000 }, async (t) => {
  const world = await browserWorld(t, 'inbox-keys-preferences');
  if (!world) return;
  const { system, shot, pageErrors, open } = world;
  const gateway = system.gateways[0]!;
  const { page: pageA } = await open();
  const { page: pageB, calls: callsB } = await open();
  const feedTab = (page: Page, name: string | RegExp) => page.getByRole('tablist', { name: 'Which notifications' }).getByRole('tab', { name });
  const item = (page: Page, title: string) => page.locator('[data-testid="notification-item"]', { has: page.getByTestId('notification-title').getByText(title, { exact: true }) });
  const token = async (page: Page) => {
    const value = await page.evaluate(() => localStorage.getItem('notify.token'));
    assert.ok(value, 'the page keeps its token in localStorage');
    return value;
  };
  let pageB2: Page | undefined;

  try {
    const ada = person('Ada');
    const bob = person('Bob');
    await register(pageA, ada);
    await register(pageB, bob);
    const apiA = await socketIoClient(gateway, await token(pageA), t);
    const apiB = await socketIoClient(gateway, await token(pageB), t);

    // --- API keys: create one, its secret shown once; revoke it after a confirmation. ---
    await pageA.getByTestId('open-api-keys').click();
    const keys = pageA.getByRole('dialog', { name: 'API keys' });
    await keys.waitFor();
    await keys.getByTestId('api-keys-empty').waitFor();
    await keys.getByLabel('Key name').fill('CI deploys');
    await keys.getByRole('button', { name: 'Create key' }).click();
    const secretBox = keys.getByTestId('api-key-secret-box');
    await expectText(secretBox, 'you will not see it again');
    const secret = await keys.getByLabel('API key secret').inputValue();
    assert.ok(secret.length >= 16, `a secret is shown: ${JSON.stringify(secret)}`);
    const keyRow = keys.locator('[data-testid="api-key-row"][data-key-name="CI deploys"]');
    await expectText(keyRow.getByTestId('api-key-status'), 'active');
    assert.ok((await keyRow.getByTestId('api-key-prefix').innerText()).replace(/…$/, '').length > 0, 'the list shows the key’s prefix');
    assert.ok(!(await keyRow.innerText()).includes(secret), 'the list does not show the secret');
    await expectText(keyRow, 'never used');
    await shot(pageA, 'api-key-created-secret-shown-once');
    // Done with the secret: gone from the page, and reopening the dialog does not bring it back.
    await keys.getByTestId('api-key-secret-done').click();
    await expectCount(secretBox, 0);
    await keys.getByRole('button', { name: 'Close' }).click();
    await expectCount(keys, 0);
    await pageA.getByTestId('open-api-keys').click();
    await keyRow.waitFor();
    await expectCount(keys.getByTestId('api-key-secret-box'), 0);
    assert.ok(!(await pageA.content()).includes(secret), 'the secret is nowhere on the page once dismissed');
    const listed = await apiA.call('apiKeys.list', {});
    assert.deepEqual(
      listed.keys.map((key) => [key.name, key.revokedAt]),
      [['CI deploys', null]],
      'the gateway lists the new key, active',
    );
    // Revoke asks first; "Keep" changes nothing; "Revoke" revokes.
    await keyRow.getByTestId('api-key-revoke').click();
    await expectText(keyRow, 'Whatever uses it stops working');
    await shot(pageA, 'api-key-revoke-confirmation');
    await keyRow.getByTestId('api-key-revoke-cancel').click();
    await expectAttribute(keyRow, 'data-revoked', 'false');
    await keyRow.getByTestId('api-key-revoke').click();
    await keyRow.getByTestId('api-key-revoke-confirm').click();
    await expectAttribute(keyRow, 'data-revoked', 'true');
    await expectText(keyRow.getByTestId('api-key-status'), 'revoked');
    await eventually('the key revoked at the gateway', () => apiA.call('apiKeys.list', {}), (answer) => answer.keys.length === 1 && answer.keys[0]!.revokedAt !== null);
    await shot(pageA, 'api-key-revoked');
    await keys.getByRole('button', { name: 'Close' }).click();
    await expectCount(keys, 0);

    // --- A topic with its creator and follower count; B follows it. ---
    const topic = `releases-${Math.random().toString(36).slice(2, 7)}`;
    await createTopic(pageA, topic, 'Every release');
    await topicRow(pageA, topic).waitFor();
    await pageB.getByTestId('topics-refresh').click();
    await topicRow(pageB, topic).getByTestId('topic-subscribe').click();
    await topicRow(pageB, topic).getByTestId('topic-unsubscribe').waitFor();
    await expectText(topicRow(pageB, topic).getByTestId('topic-about'), `by ${ada.name}`);
    await expectText(topicRow(pageB, topic).getByTestId('topic-about'), '1 follower');
    await shot(pageB, 'topic-creator-and-followers');

    // --- Per-topic preferences: email off, then mute. ---
    await topicRow(pageB, topic).getByRole('button', { name: `Notification settings for #${topic}` }).click();
    const topicSettings = topicRow(pageB, topic).getByRole('group', { name: `Settings for #${topic}` });
    const emailBox = topicSettings.getByLabel('Email me what’s published here');
    const muteBox = topicSettings.getByLabel(/^Mute/);
    await emailBox.waitFor();
    if (!(await emailBox.isChecked())) await emailBox.check();
    await expectAttribute(topicRow(pageB, topic), 'data-email', 'true');
    await emailBox.uncheck();
    await expectAttribute(topicRow(pageB, topic), 'data-email', 'false');
    await muteBox.check();
    await expectAttribute(topicRow(pageB, topic), 'data-muted', 'true');
    await topicRow(pageB, topic).getByTestId('topic-muted-pill').waitFor();
    const topicId = (await topicRow(pageB, topic).getAttribute('data-topic-id'))!;
    const stored = await apiB.call('topics.preferences', { topicId });
    assert.equal(stored.muted, true, 'muted at the gateway');
    assert.equal(stored.email, false, 'email off at the gateway');
    await shot(pageB, 'topic-muted-email-off');
    // Muted: no push and no badge. A notification published after it on a topic B does not mute
    // arrives live (so the muted one would have too), and the badge counts only that one.
    const loudTopic = await apiA.call('topics.create', { name: `alerts-${Math.random().toString(36).slice(2, 7)}` });
    await apiB.call('topics.subscribe', { topicId: loudTopic.id });
    await publish(pageA, topic, 'Quiet release', 'published while muted');
    await apiA.call('notifications.publish', { topicId: loudTopic.id, title: 'Loud alert', body: 'not muted' });
    await item(pageB, 'Loud alert').waitFor();
    await expectText(unreadBadge(pageB), /^1$/);
    await expectCount(item(pageB, 'Quiet release'), 0);
    // Still in the feed, already read (after a reload, which lists it).
    await pageB.reload();
    await expectConnection(pageB, 'connected');
    await item(pageB, 'Quiet release').waitFor();
    await expectAttribute(item(pageB, 'Quiet release'), 'data-read', 'true');
    await expectText(unreadBadge(pageB), /^1$/);
    await shot(pageB, 'muted-notification-in-feed-read');
    await item(pageB, 'Loud alert').getByRole('button', { name: 'Mark as read' }).click();
    await expectText(unreadBadge(pageB), /^0$/);
    // Unmute for the rest of the test.
    await topicRow(pageB, topic).getByRole('button', { name: `Notification settings for #${topic}` }).click();
    await topicRow(pageB, topic).getByRole('group', { name: `Settings for #${topic}` }).getByLabel(/^Mute/).uncheck();
    await expectAttribute(topicRow(pageB, topic), 'data-muted', 'false');

    // --- Settings dialog: the email digest, then all email off; both kept. ---
    const openSettings = async () => {
      await pageB.getByTestId('open-settings').click();
      const dialog = pageB.getByRole('dialog', { name: 'Notification settings' });
      await dialog.getByTestId('settings-save').waitFor();
      return dialog;
    };
    let settings = await openSettings();
    if (!(await settings.getByTestId('settings-email').isChecked())) await settings.getByTestId('settings-email').check();
    await settings.getByTestId('settings-digest-on').check();
    await settings.getByTestId('settings-digest-threshold').fill('3');
    await settings.getByTestId('settings-digest-window').fill('10');
    await shot(pageB, 'settings-digest-filled');
    await settings.getByTestId('settings-save').click();
    await settings.getByTestId('settings-saved').waitFor();
    const digestSet = await apiB.call('preferences.get', {});
    assert.deepEqual({ email: digestSet.email, digest: digestSet.digest }, { email: true, digest: { threshold: 3, windowMinutes: 10 } });
    await settings.getByRole('button', { name: 'Close' }).first().click();
    settings = await openSettings();
    assert.equal(await settings.getByTestId('settings-digest-on').isChecked(), true, 'the digest stays on');
    assert.equal(await settings.getByTestId('settings-digest-threshold').inputValue(), '3');
    assert.equal(await settings.getByTestId('settings-digest-window').inputValue(), '10');
    await settings.getByTestId('settings-email').uncheck();
    await settings.getByTestId('settings-save').click();
    await settings.getByTestId('settings-saved').waitFor();
    assert.equal((await apiB.call('preferences.get', {})).email, false, 'all email off at the gateway');
    await shot(pageB, 'settings-email-off-digest-kept');
    await pageB.keyboard.press('Escape');
    await expectCount(pageB.getByRole('dialog'), 0);
    settings = await openSettings();
    assert.equal(await settings.getByTestId('settings-email').isChecked(), false, 'email stays off');
    // Digest off again.
    await settings.getByTestId('settings-email').check();
    await settings.getByTestId('settings-digest-off').check();
    await settings.getByTestId('settings-save').click();
    await settings.getByTestId('settings-saved').waitFor();
    const digestOff = await apiB.call('preferences.get', {});
    assert.deepEqual({ email: digestOff.email, digest: digestOff.digest }, { email: true, digest: null });
    await pageB.keyboard.press('Escape');

    // --- Publishing with an action link, to chosen followers only. ---
    const carol = await registerOverApi(await socketIoClient(gateway, undefined, t), 'Carol');
    const apiC = await socketIoClient(gateway, carol.token, t);
    await apiC.call('topics.subscribe', { topicId });
    const link = 'https://example.com/releases/2?from=notify';
    await pageA.getByTestId('publish-topic').selectOption({ label: `# ${topic}` });
    await pageA.getByTestId('publish-title').fill('Release 2 for Bob');
    await pageA.getByTestId('publish-body').fill('only Bob gets this one');
    await pageA.getByLabel('Action link (optional)').fill('javascript:alert(1)');
    await expectText(pageA.getByTestId('publish-url-error'), 'http:// or https://');
    assert.equal(await pageA.getByTestId('publish-submit').isDisabled(), true, 'a non-http link cannot be published');
    await pageA.getByLabel('Action link (optional)').fill(link);
    await pageA.getByLabel('Chosen followers').check();
    const picker = pageA.getByTestId('publish-followers');
    await expectCount(picker.getByTestId('publish-follower'), 2);
    assert.equal(await pageA.getByTestId('publish-submit').isDisabled(), true, 'nobody chosen yet');
    await picker.getByLabel(bob.name, { exact: true }).check();
    await expectText(picker.getByTestId('publish-followers-chosen'), '1 of 2 followers chosen');
    await shot(pageA, 'publish-link-to-chosen-followers');
    await pageA.getByTestId('publish-submit').click();
    await expectText(pageA.getByTestId('publish-result'), 'to 1 subscriber');
    const bobsItem = item(pageB, 'Release 2 for Bob');
    await bobsItem.waitFor();
    const carolsFeed = await apiC.call('notifications.list', {});
    assert.ok(!carolsFeed.notifications.some((notification) => notification.title === 'Release 2 for Bob'), 'Carol, not chosen, did not get it');
    // The item: publisher's name and avatar, and the action link (new tab, no opener, no referrer).
    await expectText(bobsItem.getByTestId('notification-publisher'), ada.name);
    assert.match((await bobsItem.getByTestId('notification-publisher-avatar').getAttribute('src')) ?? '', /\/avatars\//);
    const anchor = bobsItem.getByRole('link', { name: /example\.com/ });
    assert.equal(await anchor.getAttribute('href'), link);
    assert.equal(await anchor.getAttribute('target'), '_blank');
    assert.equal(await anchor.getAttribute('rel'), 'noopener noreferrer');
    await expectText(unreadBadge(pageB), /^1$/);
    await shot(pageB, 'notification-with-publisher-and-link');

    // --- A topic B follows from elsewhere (not in B's lists): the push is labelled with its real name. ---
    const elsewhere = `ops-${Math.random().toString(36).slice(2, 7)}`;
    const created = await apiA.call('topics.create', { name: elsewhere });
    await apiB.call('topics.subscribe', { topicId: created.id });
    await apiA.call('notifications.publish', { topicId: created.id, title: 'From a topic not listed', body: 'labelled by topics.get' });
    await expectText(item(pageB, 'From a topic not listed').getByTestId('notification-topic'), `#${elsewhere}`);
    await expectText(unreadBadge(pageB), /^2$/);
    await shot(pageB, 'unlisted-topic-named');

    // --- Unread filter, then mark all read: one notifications.readAll, no per-notification acks. ---
    await feedTab(pageB, /^Unread/).click();
    await eventually('the unread view', () => pageB.getByTestId('notification-title').allInnerTexts(), (titles) => titles.length === 2 && titles.includes('Release 2 for Bob') && titles.includes('From a topic not listed'));
    await shot(pageB, 'unread-filter');
    await feedTab(pageB, 'All').click();
    await item(pageB, 'Quiet release').waitFor();
    callsB.since();
    await pageB.getByRole('button', { name: 'Mark all read' }).click();
    await expectText(unreadBadge(pageB), /^0$/);
    await expectCount(pageB.locator('[data-testid="notification-item"][data-read="false"]'), 0);
    const sent = callsB.calls().map((call) => call.method);
    assert.deepEqual(
      sent.filter((method) => method === 'notifications.readAll' || method === 'notifications.ack'),
      ['notifications.readAll'],
      `one readAll call and no acks: ${JSON.stringify(sent)}`,
    );
    assert.equal((await apiB.call('counters.get', {})).unread, 0, 'the gateway counts 0 unread');
    await shot(pageB, 'all-read-in-one-call');

    // --- Archive: it leaves the inbox and shows under "Archived"; unarchive brings it back. ---
    await bobsItem.getByRole('button', { name: 'Archive', exact: true }).click();
    await expectCount(bobsItem, 0);
    await feedTab(pageB, 'Archived').click();
    await expectAttribute(pageB.getByTestId('feed'), 'data-filter', 'archived');
    await bobsItem.waitFor();
    await expectAttribute(bobsItem, 'data-archived', 'true');
    await expectCount(pageB.getByTestId('notification-item'), 1);
    await shot(pageB, 'archived-filter');
    await bobsItem.getByRole('button', { name: 'Unarchive', exact: true }).click();
    await expectCount(bobsItem, 0);
    await feedTab(pageB, 'All').click();
    await bobsItem.waitFor();
    await expectAttribute(bobsItem, 'data-archived', 'false');
    const linkedId = (await bobsItem.getAttribute('data-id'))!;

    // --- The email's link: opened before logging in, beyond the first page of the feed. ---
    const bobId = (await apiB.call('users.me', {})).id;
    for (let index = 1; index <= 25; index += 1) {
      await apiA.call('notifications.publish', { topicId, title: `Filler ${index}`, body: 'pushes the linked one off the first page', to: [bobId] });
    }
    await eventually('the fillers in B’s feed', () => pageB.getByTestId('notification-item').count(), (count) => count >= 25);
    const { page: opened } = await open(`/?notification=${linkedId}`);
    pageB2 = opened;
    await expectText(opened.getByTestId('auth-notice'), 'Log in to see the notification you opened');
    await shot(opened, 'email-link-before-login');
    await login(opened, bob);
    const target = opened.locator(`[data-testid="notification-item"][data-id="${linkedId}"]`);
    await expectAttribute(target, 'data-targeted', 'true', 20_000);
    await eventually(
      'the linked notification scrolled into view',
      () => target.evaluate((element) => {
        const box = element.getBoundingClientRect();
        return { top: box.top, bottom: box.bottom, height: (globalThis as unknown as { innerHeight: number }).innerHeight };
      }),
      (box) => box.top >= 0 && box.bottom <= box.height,
    );
    assert.equal(new URL(opened.url()).searchParams.get('notification'), null, 'the link’s id is dropped from the address bar');
    await shot(opened, 'email-link-highlighted');

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  } catch (error) {
    await Promise.allSettled([shot(pageA, 'FAILED-a'), shot(pageB, 'FAILED-b'), ...(pageB2 ? [shot(pageB2, 'FAILED-b2')] : [])]);
    throw error;
  }
});
