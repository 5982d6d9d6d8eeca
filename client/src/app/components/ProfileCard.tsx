// Who you are: avatar, name, email and id.
import { useSession } from '../state/session.ts';
import { Avatar } from './Avatar.tsx';

export function ProfileCard() {
  const { user } = useSession();
  return (
    <section className="card profile" data-testid="profile-card">
      <Avatar path={user.avatarUrl} name={user.name} size={64} testId="profile-avatar" />
      <div className="profile-text">
        <h2 data-testid="profile-name">{user.name}</h2>
        <p className="muted" title={user.email} data-testid="profile-email">
          {user.email}
        </p>
        <p className="faint mono" title={user.id}>
          id {user.id.slice(0, 8)}
        </p>
      </div>
    </section>
  );
}
