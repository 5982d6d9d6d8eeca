// Sessions table access: created at login, resolved by token hash, revoked at logout.
import { randomUUID } from 'node:crypto';
import type { Database } from './database.ts';

export interface SessionRecord {
  userId: string;
  /** Epoch ms. */
  expiresAt: number;
}

export class SessionStore {
  constructor(private readonly db: Database) {}

  async create(userId: string, tokenHash: string, ttlMs: number): Promise<SessionRecord> {
    const expiresAt = new Date(Date.now() + ttlMs);
    await this.db.session.create({ data: { id: randomUUID(), userId, tokenHash, expiresAt } });
    return { userId, expiresAt: expiresAt.getTime() };
  }

  /** The live session for a token hash: not revoked and not expired; null otherwise. Always the database. */
  async live(tokenHash: string): Promise<SessionRecord | null> {
    const session = await this.db.session.findFirst({
      where: { tokenHash, revokedAt: null, expiresAt: { gt: new Date() } },
      select: { userId: true, expiresAt: true },
    });
    return session ? { userId: session.userId, expiresAt: session.expiresAt.getTime() } : null;
  }

  /** Revokes a live session; false when there was none (already revoked, expired or unknown). */
  async revoke(tokenHash: string): Promise<boolean> {
    const count = await this.db.$executeRaw`
      UPDATE sessions SET revoked_at = now() WHERE token_hash = ${tokenHash} AND revoked_at IS NULL AND expires_at > now()`;
    return count > 0;
  }
}
