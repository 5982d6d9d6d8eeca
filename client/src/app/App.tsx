// The app's shell: restores the session from the stored token, switches between the login screen and
// the workspace, handles logout and a session ended elsewhere, turns errors into friendly toasts, and
// holds the user (their avatar URL changes when they change their picture) and the picture dialog.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { User } from '@notify/lib/rpc';
import { friendlyError, isSessionLost } from './api/errors.ts';
import { useClient, useConnection, usePush } from './api/hooks.ts';
import { storedToken, storeToken } from './api/session.ts';
import { AuthScreen } from './components/AuthScreen.tsx';
import { Header } from './components/Header.tsx';
import { ProfilePictureDialog } from './components/ProfilePictureDialog.tsx';
import { useToasts } from './components/Toasts.tsx';
import { Workspace } from './components/Workspace.tsx';
import { SessionContext, type SessionValue } from './state/session.ts';

export function App() {
  const client = useClient();
  const toasts = useToasts();
  const connection = useConnection();
  const [user, setUser] = useState<User | null>(null);
  const [restoring, setRestoring] = useState(() => storedToken() !== null);
  const [restoreAttempt, setRestoreAttempt] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [pictureOpen, setPictureOpen] = useState(false);
  const loggingOut = useRef(false);

  const endSession = useCallback(
    (message: string | null) => {
      storeToken(null);
      client.setToken(null);
      setUser(null);
      setPictureOpen(false);
      setRestoring(false);
      setNotice(message);
    },
    [client],
  );

  useEffect(() => client.onTokenRefused(() => endSession('Your session has ended. Please log in again.')), [client, endSession]);

  // A stored token went into the handshake: once connected, ask who we are.
  useEffect(() => {
    if (!restoring || connection.state !== 'connected') return;
    let cancelled = false;
    client.call('users.me', {}).then(
      (me) => {
        if (cancelled) return;
        setUser(me);
        setRestoring(false);
      },
      (error: unknown) => {
        if (cancelled) return;
        if (isSessionLost(error)) return endSession('Your session has ended. Please log in again.');
        toasts.show('error', friendlyError(error), 'Restoring your session');
        setTimeout(() => !cancelled && setRestoreAttempt((attempt) => attempt + 1), 2_000);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, connection.state, endSession, restoreAttempt, restoring, toasts]);

  usePush('session.ended', () => {
    if (loggingOut.current || !user) return;
    endSession('You were logged out (in another tab or window). Log in again to continue.');
  });

  const authenticated = useCallback(
    (me: User, token: string) => {
      storeToken(token);
      client.setToken(token);
      setNotice(null);
      setUser(me);
    },
    [client],
  );

  const logout = useCallback(async () => {
    loggingOut.current = true;
    try {
      await client.call('users.logout', {});
      endSession('You’re logged out. See you soon!');
    } catch (error) {
      // The token stays valid at the server, but this device forgets it either way.
      endSession(`Logged out on this device only: ${friendlyError(error)}`);
    } finally {
      loggingOut.current = false;
    }
  }, [client, endSession]);

  const reportError = useCallback(
    (error: unknown, what?: string) => {
      if (isSessionLost(error)) endSession('Your session has ended. Please log in again.');
      else toasts.show('error', friendlyError(error), what);
    },
    [endSession, toasts],
  );

  const openProfilePicture = useCallback(() => setPictureOpen(true), []);
  const closeProfilePicture = useCallback(() => setPictureOpen(false), []);
  const avatarChanged = useCallback((avatarUrl: string) => setUser((current) => (current ? { ...current, avatarUrl } : current)), []);

  const session = useMemo<SessionValue | null>(
    () => (user ? { user, logout, reportError, openProfilePicture, avatarChanged } : null),
    [avatarChanged, logout, openProfilePicture, reportError, user],
  );

  return (
    <div className="app">
      <Header user={user} onLogout={() => void logout()} onOpenPicture={openProfilePicture} />
      {session ? (
        <SessionContext.Provider value={session}>
          <Workspace key={session.user.id} />
          {pictureOpen && <ProfilePictureDialog onClose={closeProfilePicture} />}
        </SessionContext.Provider>
      ) : restoring ? (
        <main className="splash" data-testid="restoring">
          <div className="spinner" aria-hidden="true" />
          <p className="muted">{connection.state === 'offline' ? 'You’re offline. Waiting for the network to log you back in…' : 'Logging you back in…'}</p>
        </main>
      ) : (
        <AuthScreen notice={notice ?? (new URLSearchParams(location.search).has('notification') ? 'Log in to see the notification you opened.' : null)} onAuthenticated={authenticated} />
      )}
    </div>
  );
}
