// Request bodies (auth's contract in the kit, which its callers compile against) and the user as
// other services see it; handler types derive from these schemas.
import type { z } from 'zod';
import type { publicUserShape, registerBody } from '@notify/lib/contracts';

export { loginBody, profileBody, registerBody, userIdParams } from '@notify/lib/contracts';
export type RegisterBody = z.infer<typeof registerBody>;

/** The public view of a user: never the password hash. */
export type PublicUser = z.infer<typeof publicUserShape>;

export function publicUser(user: { id: string; email: string; name: string; createdAt: Date }): PublicUser {
  return { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt.toISOString() };
}
