// Log in or create an account; on success hands the user and token to the app.
import { useState, type FormEvent } from 'react';
import type { User } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { ErrorNote } from './ErrorNote.tsx';

type Mode = 'login' | 'register';

export function AuthScreen({ notice, onAuthenticated }: { notice: string | null; onAuthenticated: (user: User, token: string) => void }) {
  const client = useClient();
  const [mode, setMode] = useState<Mode>('login');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user, token } =
        mode === 'register' ? await client.call('users.register', { name, email, password }) : await client.call('users.login', { email, password });
      onAuthenticated(user, token);
    } catch (failure) {
      setError(friendlyError(failure));
      setBusy(false);
    }
  };

  const switchTo = (next: Mode) => {
    setMode(next);
    setError(null);
  };

  return (
    <main className="auth">
      <section className="auth-card card">
        <h1>{mode === 'login' ? 'Welcome back' : 'Create your account'}</h1>
        <p className="muted">Real-time notifications through the gateway: create topics, follow them, and watch messages arrive live.</p>
        {notice && (
          <p className="notice" data-testid="auth-notice">
            {notice}
          </p>
        )}
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'login'} className={mode === 'login' ? 'tab active' : 'tab'} onClick={() => switchTo('login')} data-testid="auth-tab-login">
            Log in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'register'} className={mode === 'register' ? 'tab active' : 'tab'} onClick={() => switchTo('register')} data-testid="auth-tab-register">
            Register
          </button>
        </div>
        <form className="form" onSubmit={(event) => void submit(event)}>
          {mode === 'register' && (
            <label className="field">
              <span>Name</span>
              <input value={name} onChange={(event) => setName(event.target.value)} required maxLength={100} autoComplete="name" placeholder="Ada Lovelace" data-testid="auth-name" />
            </label>
          )}
          <label className="field">
            <span>Email</span>
            <input type="email" value={email} onChange={(event) => setEmail(event.target.value)} required maxLength={254} autoComplete="email" placeholder="ada@example.com" data-testid="auth-email" />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              type="password"
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              required
              minLength={mode === 'register' ? 8 : 1}
              autoComplete={mode === 'register' ? 'new-password' : 'current-password'}
              placeholder={mode === 'register' ? 'at least 8 characters' : ''}
              data-testid="auth-password"
            />
          </label>
          <ErrorNote text={error} testId="auth-error" />
          <button type="submit" className="button button-primary button-wide" disabled={busy} data-testid="auth-submit">
            {busy ? 'One moment…' : mode === 'login' ? 'Log in' : 'Create account'}
          </button>
        </form>
      </section>
    </main>
  );
}
