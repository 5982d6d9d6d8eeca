// The top bar: the brand, the connection state, and (when logged in) who you are and "Log out".
import type { User } from '@notify/lib/rpc';
import { Avatar } from './Avatar.tsx';
import { ConnectionIndicator } from './ConnectionIndicator.tsx';

export function Header({ user, onLogout }: { user: User | null; onLogout: () => void }) {
  return (
    <header className="header">
      <div className="brand">
        <svg className="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
          <path d="M12 2a6 6 0 0 0-6 6v3.6l-1.7 3.1A1 1 0 0 0 5.2 16h13.6a1 1 0 0 0 .9-1.3L18 11.6V8a6 6 0 0 0-6-6Zm-2.8 16a2.9 2.9 0 0 0 5.6 0Z" />
        </svg>
        <span>Notify</span>
      </div>
      <div className="header-right">
        <ConnectionIndicator />
        {user && (
          <>
            <span className="header-user" data-testid="header-user">
              <Avatar path={user.avatarUrl} name={user.name} size={28} />
              <span data-testid="header-user-name">{user.name}</span>
            </span>
            <button type="button" className="button button-ghost" onClick={onLogout} data-testid="logout-button">
              Log out
            </button>
          </>
        )}
      </div>
    </header>
  );
}
