// Your API keys (apiKeys.list / create / revoke): each key's name, prefix, when it was created and
// last used, revoked or not; a new key's secret is shown once, to copy; revoking asks first.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { ApiKey } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';
import { RelativeTime } from './RelativeTime.tsx';

/** Newest first. */
function byCreated(a: ApiKey, b: ApiKey): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;
}

function SecretBox({ apiKey, secret, onDone }: { apiKey: ApiKey; secret: string; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      // No clipboard (plain http, or refused): select it so Ctrl+C copies it.
      field.current?.select();
      setCopied('select');
    }
  };
  return (
    <div className="secret-box" role="region" aria-label="Your new API key" data-testid="api-key-secret-box">
      <p>
        <strong>Key “{apiKey.name}” created.</strong> Copy its secret now: <strong>you will not see it again</strong>. Keep it like a password.
      </p>
      <div className="secret-row">
        <input ref={field} className="mono" readOnly value={secret} aria-label="API key secret" onFocus={(event) => event.target.select()} data-testid="api-key-secret" />
        <button type="button" className="button button-secondary" onClick={() => void copy()} data-testid="api-key-copy">
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
      </div>
      {copied === 'select' && <p className="faint">Copying isn’t allowed here: the secret is selected, press Ctrl+C (⌘C).</p>}
      <button type="button" className="button button-ghost button-small" onClick={onDone} data-testid="api-key-secret-done">
        I’ve copied it
      </button>
    </div>
  );
}

function KeyRow({ apiKey, onRevoke }: { apiKey: ApiKey; onRevoke: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const revoke = async () => {
    setBusy(true);
    try {
      await onRevoke();
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const revoked = apiKey.revokedAt !== null;
  return (
    <li className={revoked ? 'api-key revoked' : 'api-key'} data-testid="api-key-row" data-key-id={apiKey.id} data-key-name={apiKey.name} data-revoked={revoked}>
      <div className="api-key-text">
        <div className="topic-name">
          <span data-testid="api-key-name">{apiKey.name}</span>
          <code className="mono faint" data-testid="api-key-prefix">
            {apiKey.prefix}…
          </code>
          {revoked ? (
            <span className="pill pill-revoked" data-testid="api-key-status">
              revoked
            </span>
          ) : (
            <span className="pill pill-following" data-testid="api-key-status">
              active
            </span>
          )}
        </div>
        <p className="faint">
          created <RelativeTime iso={apiKey.createdAt} /> · {apiKey.lastUsedAt ? <>last used <RelativeTime iso={apiKey.lastUsedAt} /></> : 'never used'}
          {apiKey.revokedAt && (
            <>
              {' '}
              · revoked <RelativeTime iso={apiKey.revokedAt} />
            </>
          )}
        </p>
      </div>
      {!revoked && (
        <div className="topic-actions">
          {confirming ? (
            <>
              <span className="confirm-text">Revoke “{apiKey.name}”? Whatever uses it stops working.</span>
              <button type="button" className="button button-danger button-small" disabled={busy} onClick={() => void revoke()} data-testid="api-key-revoke-confirm">
                Revoke
              </button>
              <button type="button" className="button button-ghost button-small" disabled={busy} onClick={() => setConfirming(false)} data-testid="api-key-revoke-cancel">
                Keep
              </button>
            </>
          ) : (
            <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(true)} aria-label={`Revoke ${apiKey.name}`} data-testid="api-key-revoke">
              Revoke
            </button>
          )}
        </div>
      )}
    </li>
  );
}

export function ApiKeysDialog({ onClose }: { onClose: () => void }) {
  const client = useClient();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);

  const load = useCallback(async () => {
    try {
      const answer = await client.call('apiKeys.list', {});
      setKeys([...answer.keys].sort(byCreated));
      setListError(null);
    } catch (failure) {
      setListError(friendlyError(failure));
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreating(true);
    setError(null);
    try {
      const answer = await client.call('apiKeys.create', { name: name.trim() });
      setCreated(answer);
      setName('');
      setKeys((current) => [answer.key, ...(current ?? []).filter((key) => key.id !== answer.key.id)]);
    } catch (failure) {
      setError(friendlyError(failure));
    } finally {
      setCreating(false);
    }
  };

  const revoke = async (key: ApiKey) => {
    setError(null);
    try {
      await client.call('apiKeys.revoke', { keyId: key.id });
      const now = new Date().toISOString();
      setKeys((current) => (current ?? []).map((known) => (known.id === key.id ? { ...known, revokedAt: known.revokedAt ?? now } : known)));
      // The gateway's own record (its revocation time) replaces the one guessed here.
      void load();
    } catch (failure) {
      setError(friendlyError(failure));
    }
  };

  return (
    <Dialog title="API keys" kicker="Publish from scripts and servers" testId="api-keys-dialog" onClose={onClose}>
      <p className="muted">An API key lets a program publish to your topics as you. Create one per program, and revoke it when it is no longer used.</p>
      <form className="create-topic" onSubmit={(event) => void create(event)} data-testid="api-key-create-form">
        <div className="create-topic-fields">
          <input value={name} onChange={(event) => setName(event.target.value)} required maxLength={100} placeholder="Key name, e.g. CI deploys" aria-label="Key name" data-testid="api-key-name-input" />
          <button type="submit" className="button button-primary" disabled={creating || !name.trim()} data-testid="api-key-create">
            {creating ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
      {created && <SecretBox apiKey={created.key} secret={created.secret} onDone={() => setCreated(null)} />}
      <ErrorNote text={error} testId="api-key-error" />
      <ErrorNote text={listError} testId="api-key-list-error" />
      {keys === null ? (
        !listError && <p className="muted">Loading your keys…</p>
      ) : keys.length === 0 ? (
        <p className="muted empty" data-testid="api-keys-empty">
          No API keys yet.
        </p>
      ) : (
        <ul className="topic-list api-key-list" aria-label="Your API keys" data-testid="api-key-list">
          {keys.map((key) => (
            <KeyRow key={key.id} apiKey={key} onRevoke={() => revoke(key)} />
          ))}
        </ul>
      )}
    </Dialog>
  );
}
