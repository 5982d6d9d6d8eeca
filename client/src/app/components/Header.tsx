// The top bar: the brand, the connection state, and (when logged in) who you are (your avatar and name
// open the profile-picture dialog) and "Log out".
import type { User } from '@notify/lib/rpc';
import { Avatar } from './Avatar.tsx';
import { ConnectionIndicator } from './ConnectionIndicator.tsx';

export function Header({ user, onLogout, onOpenPicture }: { user: User | null; onLogout: () => void; onOpenPicture: () => void }) {
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
            <button
              type="button"
              className="header-user"
              onClick={onOpenPicture}
              aria-haspopup="dialog"
              aria-label={`${user.name}, change your profile picture`}
              title="Change your profile picture"
              data-testid="header-user"
            >
              <Avatar path={user.avatarUrl} name={user.name} size={28} testId="header-avatar" />
              <span data-testid="header-user-name">{user.name}</span>
            </button>
            <button type="button" className="button button-ghost" onClick={onLogout} data-testid="logout-button">
              Log out
            </button>
          </>
        )}
      </div>
    </header>
  );
}
