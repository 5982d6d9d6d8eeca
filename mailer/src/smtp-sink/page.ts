// The sink's page: the received emails, newest first, each opening to its text and HTML.
import { escapeHtml } from '@notify/lib';
import type { ReceivedEmail } from './sink.ts';


export function renderInbox(messages: readonly ReceivedEmail[], stats: { duplicates: number; smtpPort: number }): string {
  const rows = [...messages].reverse().map(
    (mail) => `<details><summary><time>${escapeHtml(mail.receivedAt.slice(11, 19))}</time> <b>${escapeHtml(mail.to.join(', '))}</b> ${escapeHtml(mail.subject)}
      <small>${escapeHtml(mail.headers['x-mailer-node'] ?? '')}</small></summary>
      <pre>${escapeHtml(mail.text)}</pre>
      <iframe sandbox srcdoc="${escapeHtml(mail.html)}"></iframe>
      <p><small>Message-ID ${escapeHtml(mail.messageId)} · key ${escapeHtml(mail.headers['x-idempotency-key'] ?? '-')}</small></p></details>`,
  );
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Notify · mail received</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#1f2933}details{border-bottom:1px solid #e4e7eb;padding:.5em 0}
summary{cursor:pointer}time{color:#7b8794}small{color:#7b8794}pre{white-space:pre-wrap;background:#f5f7fa;padding:1em}
iframe{width:100%;height:16em;border:1px solid #e4e7eb}</style></head><body>
<h1>Mail received</h1><p>${messages.length} email(s) on SMTP port ${stats.smtpPort}; ${stats.duplicates} repeated Message-ID(s) dropped.
JSON: <a href="/api/messages">/api/messages</a>. The page refreshes every 5 s.</p>
${rows.join('\n') || '<p>Nothing yet: register a user or publish with email on.</p>'}</body></html>`;
}
