// Where the browser loads an avatar from: a path the gateway answered (users.me's avatarUrl, a
// notification's publisherAvatarUrl; `/avatars/<id>.png`, or `/avatars/<userId>?v=<version>`) on the
// gateway's address with the size asked for, an absolute http(s) address as it is.

/** The image address of `path` at `size` px. */
export function avatarSrc(gatewayUrl: string, path: string, size: number): string {
  if (/^https?:\/\//i.test(path)) return path;
  return `${gatewayUrl}${path}${path.includes('?') ? '&' : '?'}size=${size}`;
}

/** True when `path` names an uploaded picture's version (a photo, drawn smoothly), not the generated avatar. */
export function isUploadedPicture(path: string): boolean {
  const version = /[?&]v=([^&#]*)/.exec(path)?.[1];
  return version !== undefined && version !== '' && version !== 'generated';
}
