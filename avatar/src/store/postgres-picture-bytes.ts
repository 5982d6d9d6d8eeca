// The bytes of stored pictures in the avatar database's picture_bytes table, one row per version
// (PICTURE_STORE=postgres, the default). On a node-postgres pool of its own, not through Prisma:
// Prisma carries bytea through its query compiler slowly (about 40 ms for a 200 KB picture, most of
// a cold variant's time); the driver hands back a Buffer directly.
import pg from 'pg';
import type { Registry } from 'prom-client';
import { instrumentPool } from '@notify/lib/db';
import type { PictureBytesStore } from './picture-bytes.ts';

export interface PostgresPictureBytesOptions {
  connectionString: string;
  poolSize: number;
  /** db_pool_* metrics, as pool `picture-bytes`. */
  registry?: Registry;
  onPoolError?: (error: Error) => void;
}

export class PostgresPictureBytes implements PictureBytesStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(options: PostgresPictureBytesOptions) {
    this.pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000 });
    this.pool.on('error', (error) => options.onPoolError?.(error));
    if (options.registry) instrumentPool(this.pool, options.registry, 'picture-bytes');
  }

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
    const result = await this.pool.query<{ data: Buffer }>('SELECT data FROM picture_bytes WHERE user_id = $1 AND version = $2', [userId, version]);
    return result.rows[0]?.data ?? null;
  }

  async delete(userId: string, version: string): Promise<void> {
    await this.pool.query('DELETE FROM picture_bytes WHERE user_id = $1 AND version = $2', [userId, version]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
