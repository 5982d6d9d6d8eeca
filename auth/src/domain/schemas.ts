// Request bodies and the user as other services see it; handler types derive from these schemas.
import { z } from 'zod';

/** Trimmed and lower-cased before it is checked, as it is stored. */
const email = z.string().trim().toLowerCase().max(254).pipe(z.email({ message: 'must be an email address' }));
/** 8 to 1024 characters: long enough to resist guessing, short enough to hash cheaply. */
const password = z.string().min(8, 'must be at least 8 characters').max(1024);
const name = z.string().trim().min(1, 'must not be empty').max(100);

export const registerBody = z.strictObject({ email, password, name });
export const loginBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
export const profileBody = z.strictObject({ name });
export const userIdParams = z.object({ id: z.uuid({ message: 'must be a user id (uuid)' }) });

export type RegisterBody = z.infer<typeof registerBody>;

/** The public view of a user: never the password hash. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  createdAt: string;
}

export function publicUser(user: { id: string; email: string; name: string; createdAt: Date }): PublicUser {
  return { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt.toISOString() };
}
