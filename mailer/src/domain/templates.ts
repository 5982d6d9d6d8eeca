// The emails the platform sends (welcome, a notification, a digest of notifications), as plain
// text and HTML. Plain functions, no I/O.
import { escapeHtml } from '@notify/lib';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}


/** `listHtml`: markup (already escaped) placed after the paragraphs. */
function layout(heading: string, paragraphs: string[], link: { href: string; label: string }, listHtml = ''): string {
  return [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1f2933;max-width:560px;margin:auto">',
    `<h2 style="color:#3e4c59">${escapeHtml(heading)}</h2>`,
    ...paragraphs.map((text) => `<p style="white-space:pre-wrap">${escapeHtml(text)}</p>`),
    ...(listHtml ? [listHtml] : []),
    `<p><a href="${escapeHtml(link.href)}" style="color:#2680c2">${escapeHtml(link.label)}</a></p>`,
    '</body></html>',
  ].join('\n');
}

export function welcomeEmail(input: { name: string; clientUrl: string }): RenderedEmail {
  const subject = `Welcome to Notify, ${input.name}`;
  const lines = [`Hello ${input.name},`, 'Your account is ready. Create a topic, follow others, and notifications reach you live and by email.'];
  return {
    subject,
    text: `${lines.join('\n\n')}\n\nOpen Notify: ${input.clientUrl}\n`,
    html: layout(subject, lines, { href: input.clientUrl, label: 'Open Notify' }),
  };
}

/** The client's page of one notification: the client opens it from `?notification=<id>`. */
export function notificationLink(clientUrl: string, notificationId: string): string {
  const url = new URL(clientUrl);
  url.searchParams.set('notification', notificationId);
  return url.toString();
}

export function notificationEmail(input: { name: string; topicName: string; title: string; body: string; link: string }): RenderedEmail {
  const subject = `[${input.topicName}] ${input.title}`;
  const lines = [`Hello ${input.name},`, `New on “${input.topicName}”: ${input.title}`, ...(input.body ? [input.body] : [])];
  return {
    subject,
    text: `${lines.join('\n\n')}\n\nSee it in Notify: ${input.link}\n`,
    html: layout(input.title, lines, { href: input.link, label: 'See it in Notify' }),
  };
}

/** One email listing the notifications held back during a digest window, each with its link. */
export function digestEmail(input: { name: string; items: { topicName: string; title: string; link: string }[]; clientUrl: string }): RenderedEmail {
  const count = input.items.length;
  const subject = `Notify digest: ${count} notification${count === 1 ? '' : 's'}`;
  const intro = `Hello ${input.name},`;
  const summary = `${count} more notification${count === 1 ? '' : 's'} arrived while your email digest was on:`;
  const text = [intro, summary, ...input.items.map((item) => `- [${item.topicName}] ${item.title}\n  ${item.link}`)].join('\n\n');
  const list = input.items.map((item) => `<li><a href="${escapeHtml(item.link)}" style="color:#2680c2">[${escapeHtml(item.topicName)}] ${escapeHtml(item.title)}</a></li>`).join('');
  return {
    subject,
    text: `${text}\n\nOpen Notify: ${input.clientUrl}\n`,
    html: layout(subject, [intro, summary], { href: input.clientUrl, label: 'Open Notify' }, `<ul>${list}</ul>`),
  };
}
