// API keys table access: created under a per-user cap, listed, revoked by their owner, found by id
// for verification, and their last use recorded at most once a minute.
import type { Database } from './database.ts';

export interface ApiKeyRow {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  secretHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A key with its owner, as verification reads it in one query. */
export interface ApiKeyWithOwner extends ApiKeyRow {
  user: { id: string; email: string; name: string; createdAt: Date };
}

/** Seconds between two writes of one key's `last_used_at`: uses in between are not written. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

export class ApiKeyStore {
  constructor(private readonly db: Database) {}

  /**
   * Inserts a key unless its owner already holds `max` keys that are not revoked: the owner's user
   * row is locked first, so two creations at once cannot both pass the count. Undefined when the
   * cap refuses it.
   */
  async create(input: { id: string; userId: string; name: string; prefix: string; secretHash: string }, max: number): Promise<ApiKeyRow | undefined> {
    return this.db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM users WHERE id = ${input.userId}::uuid FOR UPDATE`;
      const live = await tx.apiKey.count({ where: { userId: input.userId, revokedAt: null } });
      if (live >= max) return undefined;
      return tx.apiKey.create({ data: input });
    });
  }

  /** The user's keys, revoked ones included, newest first (at most a few hundred: the cap bounds the live ones). */
  listOf(userId: string): Promise<ApiKeyRow[]> {
    return this.db.apiKey.findMany({ where: { userId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 500 });
  }

  /**
   * Revokes the user's key (a revoked one keeps its first revocation time). False when the user
   * has no key of that id, whoever else may have one.
   */
  async revoke(userId: string, id: string): Promise<boolean> {
    const count = await this.db.$executeRaw`
      UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = ${id}::uuid AND user_id = ${userId}::uuid`;
    return count > 0;
  }

  /** The key and its owner, revoked or not; null when there is none. Always the database: never cached. */
  byId(id: string): Promise<ApiKeyWithOwner | null> {
    return this.db.apiKey.findUnique({ where: { id }, include: { user: { select: { id: true, email: true, name: true, createdAt: true } } } });
  }

  /**
   * Records a use unless one was recorded in the last LAST_USED_RESOLUTION_SECONDS (checked in the
   * statement, so the nodes together write at most once a minute per key). The time written is
   * the database's now().
   */
  async touch(id: string): Promise<void> {
    await this.db.$executeRaw`
      UPDATE api_keys SET last_used_at = now()
      WHERE id = ${id}::uuid AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => ${LAST_USED_RESOLUTION_SECONDS}::double precision))`;
  }
}
