// The logged-in person as the workspace sees it: the user, logout, what to do when the session is lost,
// and their avatar: the profile-picture dialog's door and the new avatar URL once it changed.
import { createContext, useContext } from 'react';
import type { User } from '@notify/lib/rpc';

export interface SessionValue {
  user: User;
  logout(): Promise<void>;
  /** Reports a failed action: a toast in friendly words, or back to the login screen when the session is gone. */
  reportError(error: unknown, what?: string): void;
  /** Opens the profile-picture dialog. */
  openProfilePicture(): void;
  /** The user's avatar is now at `avatarUrl` (uploaded or removed): shown everywhere at once. */
  avatarChanged(avatarUrl: string): void;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <SessionContext.Provider>');
  return session;
}
