// Who you are: avatar, name, email and id; the doors to your profile picture, notification settings and API keys.
import { useSession } from '../state/session.ts';
import { Avatar } from './Avatar.tsx';

export function ProfileCard({ onOpenSettings, onOpenApiKeys }: { onOpenSettings: () => void; onOpenApiKeys: () => void }) {
  const { user, openProfilePicture } = useSession();
  return (
    <section className="card profile-card" data-testid="profile-card">
      <div className="profile">
        <button type="button" className="avatar-button" onClick={openProfilePicture} aria-label="Change your profile picture" title="Change your profile picture" aria-haspopup="dialog">
          <Avatar path={user.avatarUrl} name={user.name} size={64} testId="profile-avatar" />
        </button>
        <div className="profile-text">
          <h2 data-testid="profile-name">{user.name}</h2>
          <p className="muted" title={user.email} data-testid="profile-email">
            {user.email}
          </p>
          <p className="faint mono" title={user.id}>
            id {user.id.slice(0, 8)}
          </p>
        </div>
      </div>
      <div className="profile-actions">
        <button type="button" className="button button-ghost button-small" onClick={openProfilePicture} aria-haspopup="dialog" data-testid="open-picture">
          Picture
        </button>
        <button type="button" className="button button-ghost button-small" onClick={onOpenSettings} aria-haspopup="dialog" data-testid="open-settings">
          Settings
        </button>
        <button type="button" className="button button-ghost button-small" onClick={onOpenApiKeys} aria-haspopup="dialog" data-testid="open-api-keys">
          API keys
        </button>
      </div>
    </section>
  );
}
