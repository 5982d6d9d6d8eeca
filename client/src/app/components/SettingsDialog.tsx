// Your notification settings (preferences.get / preferences.set): email on or off for everything,
// and the email digest: N emails within M minutes become one digest, or off.
import { useEffect, useState, type FormEvent } from 'react';
import type { UserPreferences } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';

const DEFAULT_DIGEST = { threshold: 5, windowMinutes: 15 };

interface Draft {
  email: boolean;
  digestOn: boolean;
  threshold: string;
  windowMinutes: string;
}

function draftOf(preferences: UserPreferences): Draft {
  const digest = preferences.digest ?? DEFAULT_DIGEST;
  return { email: preferences.email, digestOn: preferences.digest !== null, threshold: String(digest.threshold), windowMinutes: String(digest.windowMinutes) };
}

/** A whole number in [min, max], or null. */
function whole(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const client = useClient();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setLoadError(null);
    client.call('preferences.get', {}).then(
      (preferences) => !cancelled && setDraft(draftOf(preferences)),
      (failure: unknown) => !cancelled && setLoadError(friendlyError(failure)),
    );
    return () => {
      cancelled = true;
    };
  }, [attempt, client]);

  const edit = (change: Partial<Draft>) => {
    setDraft((current) => (current ? { ...current, ...change } : current));
    setSaved(false);
  };

  const threshold = draft ? whole(draft.threshold, 1, 1000) : null;
  const windowMinutes = draft ? whole(draft.windowMinutes, 1, 1440) : null;
  const digestProblem =
    draft?.digestOn && (threshold === null || windowMinutes === null)
      ? 'The digest needs a number of emails from 1 to 1000 and a window from 1 to 1440 minutes.'
      : null;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!draft || digestProblem) return;
    setBusy(true);
    setError(null);
    try {
      const preferences = await client.call('preferences.set', {
        email: draft.email,
        digest: draft.digestOn && threshold !== null && windowMinutes !== null ? { threshold, windowMinutes } : null,
      });
      setDraft(draftOf(preferences));
      setSaved(true);
    } catch (failure) {
      setError(friendlyError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Notification settings" kicker="Your account" testId="settings-dialog" onClose={onClose}>
      {loadError ? (
        <>
          <ErrorNote text={loadError} testId="settings-load-error" />
          <button type="button" className="button button-ghost" onClick={() => setAttempt((count) => count + 1)}>
            Try again
          </button>
        </>
      ) : !draft ? (
        <p className="muted">Loading your settings…</p>
      ) : (
        <form className="form" onSubmit={(event) => void save(event)}>
          <label className="check">
            <input type="checkbox" checked={draft.email} onChange={(event) => edit({ email: event.target.checked })} data-testid="settings-email" />
            <span>Send me emails (for notifications published with email, on topics whose email is on)</span>
          </label>
          <fieldset className="audience" disabled={!draft.email}>
            <legend>Email digest</legend>
            <label className="check">
              <input type="radio" name="digest" checked={!draft.digestOn} onChange={() => edit({ digestOn: false })} data-testid="settings-digest-off" />
              <span>Off: one email per notification</span>
            </label>
            <label className="check">
              <input type="radio" name="digest" checked={draft.digestOn} onChange={() => edit({ digestOn: true })} data-testid="settings-digest-on" />
              <span>Bundle busy moments into one digest</span>
            </label>
            {draft.digestOn && (
              <div className="digest-fields">
                <label className="field">
                  <span>When at least (emails)</span>
                  <input type="number" inputMode="numeric" min={1} max={1000} value={draft.threshold} onChange={(event) => edit({ threshold: event.target.value })} data-testid="settings-digest-threshold" />
                </label>
                <label className="field">
                  <span>arrive within (minutes)</span>
                  <input type="number" inputMode="numeric" min={1} max={1440} value={draft.windowMinutes} onChange={(event) => edit({ windowMinutes: event.target.value })} data-testid="settings-digest-window" />
                </label>
              </div>
            )}
          </fieldset>
          <p className="faint">Muting a topic, or turning its email off, is done on the topic (the bell next to “Unsubscribe”).</p>
          <ErrorNote text={digestProblem ?? error} testId="settings-error" />
          <div className="dialog-actions">
            {saved && (
              <span className="saved-note" role="status" data-testid="settings-saved">
                Saved
              </span>
            )}
            <button type="button" className="button button-ghost" onClick={onClose}>
              Close
            </button>
            <button type="submit" className="button button-primary" disabled={busy || digestProblem !== null} data-testid="settings-save">
              {busy ? 'Saving…' : 'Save'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
