// The bytes of stored pictures in the avatar database's picture_bytes table, one row per version
// (PICTURE_STORE=postgres, the default), on the direct node-postgres pool (./direct-pool.ts), not
// through Prisma.
import type pg from 'pg';
import type { PictureBytesStore } from './picture-bytes.ts';

export class PostgresPictureBytes implements PictureBytesStore {
  readonly kind = 'postgres' as const;

  /** `pool` is the caller's: closing this store leaves it open. */
  constructor(private readonly pool: pg.Pool) {}

  async put(userId: string, version: string, bytes: Buffer, contentType: string): Promise<void> {
    // A version names its bytes (a digest of them): an existing row already holds these.
    await this.pool.query('INSERT INTO picture_bytes (user_id, version, content_type, data) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, version) DO NOTHING', [
      userId,
      version,
      contentType,
      bytes,
    ]);
  }

  async get(userId: string, version: string): Promise<Buffer | null> {
    const result = await this.pool.query<{ data: Buffer }>({ name: 'picture-bytes', text: 'SELECT data FROM picture_bytes WHERE user_id = $1 AND version = $2', values: [userId, version] });
    return result.rows[0]?.data ?? null;
  }

  async delete(userId: string, version: string): Promise<void> {
    await this.pool.query('DELETE FROM picture_bytes WHERE user_id = $1 AND version = $2', [userId, version]);
  }

  async close(): Promise<void> {}
}
