// Extension points for what other services do after auth's writes.

import type { PublicUser } from './domain/schemas.ts';

export interface AuthHooks {
  /**
   * After a user is registered and committed (the welcome-email relay is woken here).
   * It runs off the response path (the registration answers without waiting for it) and is given
   * 10 s; a failure or time-out is logged and never undoes the registration.
   */
  userRegistered(user: PublicUser): Promise<void>;
}

/** No follow-up (welcome emails off, as in tests): registration completes alone. */
export const noHooks: AuthHooks = {
  async userRegistered() {},
};
