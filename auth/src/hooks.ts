// Extension points for what other services do after auth's writes.

import type { PublicUser } from './domain/schemas.ts';

export interface AuthHooks {
  /**
   * After a user is registered and committed. The mailer (issue 6) hangs the welcome email here.
   * It runs off the response path (the registration answers without waiting for it) and is given
   * 10 s; a failure or time-out is logged and never undoes the registration.
   */
  userRegistered(user: PublicUser): Promise<void>;
}

/** No other service is wired in yet: registration completes with no follow-up. */
export const noHooks: AuthHooks = {
  async userRegistered() {},
};
