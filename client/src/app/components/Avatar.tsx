// A user's avatar from the gateway (its path with the size asked for; an absolute http(s) address as
// it is): an uploaded picture drawn smoothly, the generated one crisp, and initials while it fails to
// load (tried again when the path changes, e.g. after a new picture).
import { useState } from 'react';
import { avatarSrc, isUploadedPicture } from '../api/avatar-url.ts';
import { useClient } from '../api/hooks.ts';

/** The size asked of the gateway, the same wherever an avatar is shown (28 to 64 px), so the browser loads one image per person. */
const REQUESTED_SIZE = 64;

/** `requestSize`: the size asked of the gateway when the app's usual one is too small (a large preview). */
export function Avatar({ path, name, size, testId, requestSize = REQUESTED_SIZE }: { path: string; name: string; size: number; testId?: string; requestSize?: number }) {
  const client = useClient();
  const src = avatarSrc(client.gatewayUrl, path, requestSize);
  const [failedSrc, setFailedSrc] = useState<string | null>(null);
  const initials = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase())
    .join('');
  if (failedSrc === src) {
    return (
      <span className="avatar avatar-fallback" style={{ width: size, height: size, fontSize: size * 0.4 }} data-testid={testId} aria-label={name}>
        {initials || '?'}
      </span>
    );
  }
  return (
    <img
      className={isUploadedPicture(path) ? 'avatar avatar-photo' : 'avatar'}
      src={src}
      width={size}
      height={size}
      alt={`${name}’s avatar`}
      data-testid={testId}
      onError={() => setFailedSrc(src)}
    />
  );
}
