// The two emails the platform sends, as plain text and HTML. Plain functions, no I/O.
import { escapeHtml } from '@notify/lib';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}


function layout(heading: string, paragraphs: string[], link: { href: string; label: string }): string {
  return [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1f2933;max-width:560px;margin:auto">',
    `<h2 style="color:#3e4c59">${escapeHtml(heading)}</h2>`,
    ...paragraphs.map((text) => `<p style="white-space:pre-wrap">${escapeHtml(text)}</p>`),
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

export function notificationEmail(input: { name: string; topicName: string; title: string; body: string; clientUrl: string }): RenderedEmail {
  const subject = `[${input.topicName}] ${input.title}`;
  const lines = [`Hello ${input.name},`, `New on “${input.topicName}”: ${input.title}`, ...(input.body ? [input.body] : [])];
  return {
    subject,
    text: `${lines.join('\n\n')}\n\nSee it in Notify: ${input.clientUrl}\n`,
    html: layout(input.title, lines, { href: input.clientUrl, label: 'See it in Notify' }),
  };
}
