// Browser-test helpers: Chromium through playwright-core, numbered screenshots, polling assertions,
// and the app's screens driven by their data-testid attributes.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { spawnService, type ServiceProcess } from '@notify/lib/testing';
import { startSystem, type System, type SystemOptions } from '../../gateway/test/helper.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser test's world: the system with the avatar service, the client server, Chromium, and screenshots. */
export interface BrowserWorld {
  system: System;
  client: ServiceProcess;
  shot: (page: Page, step: string) => Promise<string>;
  /** Messages of uncaught errors on any page opened through `open`. */
  pageErrors: string[];
  /** A fresh browser context on `path` of the client, once it shows itself connected. */
  open(path?: string): Promise<{ context: BrowserContext; page: Page; calls: ReturnType<typeof sentCalls> }>;
}

/** Starts the world for a browser test, or skips the test when Chromium is not installed (undefined). */
export async function browserWorld(t: TestContext, screenshotPrefix: string, systemOptions: SystemOptions = {}): Promise<BrowserWorld | undefined> {
  if (!chromiumAvailable()) {
    t.skip(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
    return undefined;
  }
  const system = await startSystem(t, { avatar: true, ...systemOptions });
  const gateway = system.gateways[0]!;
  const client = await spawnService({ entry: 'client/src/server.ts', env: { GATEWAY_URL: gateway.url, DISCOVERY_URL: system.discovery.url }, timeoutMs: 90_000 }, t);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const pageErrors: string[] = [];
  return {
    system,
    client,
    shot: reportedScreenshots(t, screenshotPrefix),
    pageErrors,
    async open(path = '/') {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const calls = sentCalls(page);
      await page.goto(new URL(path, client.url).href);
      await expectConnection(page, 'connected');
      return { context, page, calls };
    },
  };
}

const REPOSITORY = resolve(import.meta.dirname, '..', '..');

/**
 * Where a test's screenshots go: `SCREENSHOT_DIR` (created if missing, never emptied), else a fresh
 * temporary directory. Never inside the repository.
 */
export function screenshotDir(prefix: string): string {
  const given = process.env.SCREENSHOT_DIR;
  const dir = given ? resolve(given) : mkdtempSync(join(tmpdir(), `${prefix}-`));
  if (dir === REPOSITORY || dir.startsWith(REPOSITORY + sep)) throw new Error(`SCREENSHOT_DIR must be outside the repository (${REPOSITORY}): ${dir}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Numbered full-page screenshots (`<prefix>-01-<step>.png`, …) in screenshotDir(prefix), each path printed with t.diagnostic. */
export function reportedScreenshots(t: TestContext, prefix: string): (page: Page, step: string) => Promise<string> {
  const dir = screenshotDir(prefix);
  t.diagnostic(`screenshots in ${dir}`);
  let count = 0;
  return async (page, step) => {
    count += 1;
    const path = join(dir, `${prefix}-${String(count).padStart(2, '0')}-${step}.png`);
    await page.screenshot({ path, fullPage: true, animations: 'disabled' });
    t.diagnostic(`screenshot: ${path}`);
    return path;
  };
}

/**
 * The RPC calls a page sends over its socket.io connection, by method name, as they leave the
 * browser (`42<ack id>["method",{params}]` frames). `since()` starts a new count.
 */
export function sentCalls(page: Page): { calls(): { method: string; params: unknown }[]; since(): void } {
  let sent: { method: string; params: unknown }[] = [];
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      const match = /^42\d*(\[.*\])$/s.exec(text);
      if (!match) return;
      try {
        const [method, params] = JSON.parse(match[1]!) as [unknown, unknown];
        if (typeof method === 'string') sent.push({ method, params });
      } catch {
        // Not an event frame.
      }
    });
  });
  return {
    calls: () => [...sent],
    since: () => {
      sent = [];
    },
  };
}

/** Polls `probe` until `check` accepts its value; fails with the last value seen. */
export async function eventually<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let failure: unknown;
  for (;;) {
    try {
      last = await probe();
      failure = undefined;
      if (check(last)) return last;
    } catch (error) {
      failure = error;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what}: not within ${timeoutMs} ms; last ${failure ? `error: ${String(failure)}` : `value: ${JSON.stringify(last)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the locator's text matches (a string must be contained). */
export async function expectText(locator: Locator, expected: string | RegExp, timeoutMs = 10_000): Promise<string> {
  return eventually(
    `text of ${locator.toString()} to match ${String(expected)}`,
    () => locator.first().innerText({ timeout: 1_000 }),
    (text) => (typeof expected === 'string' ? text.includes(expected) : expected.test(text)),
    timeoutMs,
  );
}

export async function expectCount(locator: Locator, count: number, timeoutMs = 10_000): Promise<void> {
  await eventually(`count of ${locator.toString()} to be ${count}`, () => locator.count(), (value) => value === count, timeoutMs);
}

/** Waits until the locator's first element has `name` = `value` (the page updates it asynchronously). */
export async function expectAttribute(locator: Locator, name: string, value: string, timeoutMs = 10_000): Promise<void> {
  await eventually(`${name} of ${locator.toString()} to be ${value}`, () => locator.first().getAttribute(name, { timeout: 1_000 }), (seen) => seen === value, timeoutMs);
}

export async function expectConnection(page: Page, state: 'connected' | 'reconnecting' | 'offline' | 'connecting', timeoutMs = 10_000): Promise<void> {
  await expectAttribute(page.getByTestId('connection-state'), 'data-state', state, timeoutMs);
}

export interface Person {
  name: string;
  email: string;
  password: string;
}

export function person(name: string): Person {
  return { name, email: `${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}@example.test`, password: 'correct horse battery' };
}

/** Registers through the auth screen and waits for the workspace. */
export async function register(page: Page, who: Person): Promise<void> {
  await page.getByTestId('auth-tab-register').click();
  await page.getByTestId('auth-name').fill(who.name);
  await page.getByTestId('auth-email').fill(who.email);
  await page.getByTestId('auth-password').fill(who.password);
  await page.getByTestId('auth-submit').click();
  await expectText(page.getByTestId('profile-name'), who.name);
}

export async function login(page: Page, who: Pick<Person, 'email' | 'password'>): Promise<void> {
  await page.getByTestId('auth-tab-login').click();
  await page.getByTestId('auth-email').fill(who.email);
  await page.getByTestId('auth-password').fill(who.password);
  await page.getByTestId('auth-submit').click();
}

export async function createTopic(page: Page, name: string, description = ''): Promise<void> {
  await page.getByTestId('topic-create-name').fill(name);
  await page.getByTestId('topic-create-description').fill(description);
  await page.getByTestId('topic-create-submit').click();
}

/** The unread count in the header: its text is the count. */
export function unreadBadge(page: Page): Locator {
  return page.getByTestId('unread-badge');
}

export function topicRow(page: Page, name: string): Locator {
  return page.locator(`[data-testid="topic-row"][data-topic-name="${name}"]`);
}

/** Publishes through the publish panel and waits for the gateway's answer. */
export async function publish(page: Page, topic: string, title: string, body: string): Promise<void> {
  await page.getByTestId('publish-topic').selectOption({ label: `# ${topic}` });
  await page.getByTestId('publish-title').fill(title);
  await page.getByTestId('publish-body').fill(body);
  await page.getByTestId('publish-submit').click();
  await expectText(page.getByTestId('publish-result'), `Sent “${title}”`);
}

/** The titles in the feed, top to bottom. */
export async function feedTitles(page: Page): Promise<string[]> {
  return page.getByTestId('notification-title').allInnerTexts();
}

/** naturalWidth of an <img> once it finished loading (0 when it failed). */
export async function loadedImageWidth(locator: Locator): Promise<number> {
  return eventually(
    'the image to finish loading',
    () => locator.evaluate((img) => ({ complete: (img as unknown as { complete: boolean }).complete, width: (img as unknown as { naturalWidth: number }).naturalWidth })),
    (value) => value.complete,
  ).then((value) => value.width);
}

/**
 * A tab switch as a person sees it: the selected tab (aria-selected) looks different from the
 * others (its computed background or shadow), and the switch is one row of buttons high.
 */
export async function expectTabSwitch(tablist: Locator): Promise<void> {
  // Runs in the page; typed by hand, as this file compiles without the DOM's types.
  type Box = { getBoundingClientRect(): { height: number }; getAttribute(name: string): string | null };
  type Page = { getComputedStyle(element: Box): { backgroundColor: string; boxShadow: string } };
  const look = await tablist.evaluate((list) => {
    // No named functions in here: the bundler would wrap them in a helper the page does not have.
    const tabs = [...(list as unknown as { querySelectorAll(selector: string): Iterable<Box> }).querySelectorAll('[role="tab"]')].map((tab) => ({
      selected: tab.getAttribute('aria-selected') === 'true',
      paint: `${(globalThis as unknown as Page).getComputedStyle(tab).backgroundColor} ${(globalThis as unknown as Page).getComputedStyle(tab).boxShadow}`,
      height: tab.getBoundingClientRect().height,
    }));
    return { height: list.getBoundingClientRect().height, tabs };
  });
  const selected = look.tabs.filter((tab) => tab.selected);
  const others = look.tabs.filter((tab) => !tab.selected);
  assert.equal(selected.length, 1, `one selected tab: ${JSON.stringify(look)}`);
  for (const other of others) assert.notEqual(selected[0]!.paint, other.paint, `the selected tab looks different: ${JSON.stringify(look)}`);
  const row = Math.max(...look.tabs.map((tab) => tab.height));
  assert.ok(look.height <= row * 1.5, `the switch is one row high (${look.height} px for ${row} px buttons)`);
}
