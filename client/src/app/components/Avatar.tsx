// A user's avatar from the gateway (/avatars/<id>.png?size=64, shown at any size; an absolute http(s)
// address as it is), with initials while it fails to load.
import { useState } from 'react';
import { useClient } from '../api/hooks.ts';

export function Avatar({ path, name, size, testId }: { path: string; name: string; size: number; testId?: string }) {
  const client = useClient();
  const [failed, setFailed] = useState(false);
  const initials = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase())
    .join('');
  if (failed) {
    return (
      <span className="avatar avatar-fallback" style={{ width: size, height: size, fontSize: size * 0.4 }} data-testid={testId} aria-label={name}>
        {initials || '?'}
      </span>
    );
  }
  return (
    <img
      className="avatar"
      src={/^https?:\/\//i.test(path) ? path : `${client.gatewayUrl}${path}?size=64`}
      width={size}
      height={size}
      alt={`${name}’s avatar`}
      data-testid={testId}
      onError={() => setFailed(true)}
    />
  );
}
