// Users table access.
import { randomUUID } from 'node:crypto';
import type { Database } from './database.ts';
import type { SessionRecord } from './sessions.ts';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  passwordHash: string;
  createdAt: Date;
}

export class UserStore {
  constructor(private readonly db: Database) {}

  /**
   * Inserts a user, its first session and (when enabled) its welcome email's outbox row in one
   * transaction: all or none (a registration that fails half-way leaves no account without a token,
   * and the email free). A taken email raises P2002.
   */
  async createWithSession(
    input: { email: string; name: string; passwordHash: string },
    session: { tokenHash: string; ttlMs: number },
    options: { welcomeEmail: boolean },
  ): Promise<{ user: UserRow; session: SessionRecord }> {
    const expiresAt = new Date(Date.now() + session.ttlMs);
    const user = await this.db.$transaction(async (tx) => {
      const created = await tx.user.create({ data: { id: randomUUID(), ...input } });
      await tx.session.create({ data: { id: randomUUID(), userId: created.id, tokenHash: session.tokenHash, expiresAt } });
      // The welcome email is owed from the moment the user exists: same transaction.
      if (options.welcomeEmail) await tx.welcomeOutbox.create({ data: { userId: created.id } });
      return created;
    });
    return { user, session: { userId: user.id, expiresAt: expiresAt.getTime() } };
  }

  byEmail(email: string): Promise<UserRow | null> {
    return this.db.user.findUnique({ where: { email } });
  }

  byId(id: string): Promise<UserRow | null> {
    return this.db.user.findUnique({ where: { id } });
  }

  rename(id: string, name: string): Promise<UserRow> {
    return this.db.user.update({ where: { id }, data: { name } });
  }
}
