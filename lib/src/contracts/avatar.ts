// The avatar service's API. Generated avatars, `GET /avatars/:seed.png?size=N&style=S`: PNG bytes drawn
// from the text in the path. A person's own picture: the gateway stores it (`PUT /pictures/:userId`, the
// image's bytes as the body), removes it, and asks which version each user has; anyone's avatar is
// served as variants (`GET /avatars/:userId?size=&format=&fit=&grayscale=&blur=&v=`), the uploaded
// picture's or, without one, the generated avatar's. The avatar service checks sizes, formats and
// styles more closely (its styles are a family it resolves by name).
import { z } from 'zod';
import { defineContract, defineRoute } from './contract.ts';

/** Uploaded pictures are at most this many bytes (the gateway refuses more with 413 before sending them on). */
export const PICTURE_MAX_BYTES = 5 * 1024 * 1024;
/** The variant formats a picture is served in. */
export const PICTURE_FORMATS = ['png', 'webp', 'avif'] as const;
/** How a picture is fitted into the square: cropped to fill it, or letterboxed whole inside it. */
export const PICTURE_FITS = ['cover', 'contain'] as const;

/** A user id as auth makes them (uuid); the avatar service keeps them opaque. */
const pictureUserId = z.string().min(1).max(128);
/**
 * The version of a user's avatar: a digest of the stored picture's bytes, or `generated` when the
 * user has none. Part of every avatar URL, so the URL changes when the picture does.
 */
export const pictureVersion = z.string().regex(/^(generated|[0-9a-f]{16,64})$/, 'must be an avatar version');
export type PictureVersion = z.infer<typeof pictureVersion>;

/** What the avatar service keeps of an uploaded picture, after normalising it. */
export const pictureShape = z.object({
  userId: pictureUserId,
  version: pictureVersion,
  width: z.number().int(),
  height: z.number().int(),
  /** The stored original's format. */
  format: z.string(),
  bytes: z.number().int(),
  updatedAt: z.string(),
});
export type Picture = z.infer<typeof pictureShape>;

export const avatarContract = defineContract('avatar', {
  render: defineRoute({
    method: 'GET',
    path: '/avatars/:seed.png',
    params: z.object({ seed: z.string() }),
    query: z.object({ size: z.string().optional(), style: z.string().optional() }),
    response: z.custom<Uint8Array>(),
    idempotent: true,
  }),
  /**
   * A variant of the user's avatar, bytes in the asked format. With `v` naming the current version it
   * is immutable (cacheable for a year); without `v`, or with an older one, it is the current avatar,
   * to be revalidated (strong ETag, 304). Values are text on the wire; the service validates them.
   */
  variant: defineRoute({
    method: 'GET',
    path: '/avatars/:userId',
    params: z.object({ userId: z.string() }),
    query: z.object({
      size: z.string().optional(),
      format: z.string().optional(),
      fit: z.string().optional(),
      grayscale: z.string().optional(),
      blur: z.string().optional(),
      v: z.string().optional(),
    }),
    response: z.custom<Uint8Array>(),
    idempotent: true,
  }),
  /**
   * Stores the image in the body (at most PICTURE_MAX_BYTES; its type is read from its bytes) as the
   * user's picture, replacing any earlier one. Only the gateway calls it, for the user its session
   * names. Refusals: 400 with reason UNSUPPORTED_IMAGE or IMAGE_TOO_MANY_PIXELS, 413 past the size.
   */
  putPicture: defineRoute({
    method: 'PUT',
    path: '/pictures/:userId',
    params: z.object({ userId: pictureUserId }),
    // The image's bytes, sent as application/octet-stream.
    body: z.custom<Uint8Array>((value) => value instanceof Uint8Array),
    response: pictureShape,
    // The same bytes give the same stored picture and version.
    idempotent: true,
  }),
  /** Removes the user's picture: their avatar is the generated one again. `deleted` false: there was none. */
  deletePicture: defineRoute({
    method: 'DELETE',
    path: '/pictures/:userId',
    params: z.object({ userId: pictureUserId }),
    response: z.object({ deleted: z.boolean(), version: pictureVersion }),
    idempotent: true,
  }),
  /** The current avatar version of each user named (`generated` for those without a picture). */
  versions: defineRoute({
    method: 'POST',
    path: '/pictures/versions',
    body: z.strictObject({ userIds: z.array(pictureUserId).min(1).max(1_000) }),
    response: z.object({ versions: z.record(z.string(), pictureVersion) }),
    idempotent: true,
  }),
});
