// The bytes of stored pictures in the avatar database's picture_bytes table, one row per version
// (PICTURE_STORE=postgres, the default). The pool is the service's own, closed with it.
import type { Database } from './database.ts';
import type { PictureBytesStore } from './picture-bytes.ts';

export class PostgresPictureBytes implements PictureBytesStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly db: Database) {}

  async put(userId: string, version: string, bytes: Buffer, contentType: string): Promise<void> {
    // A version names its bytes (a digest of them): an existing row already holds these.
    await this.db.pictureBytes.upsert({
      where: { userId_version: { userId, version } },
      create: { userId, version, contentType, data: new Uint8Array(bytes) },
      update: {},
    });
  }

  async get(userId: string, version: string): Promise<Buffer | null> {
    const row = await this.db.pictureBytes.findUnique({ where: { userId_version: { userId, version } }, select: { data: true } });
    return row ? Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength) : null;
  }

  async delete(userId: string, version: string): Promise<void> {
    await this.db.pictureBytes.deleteMany({ where: { userId, version } });
  }

  async close(): Promise<void> {
    // The database client is the service's; it closes it.
  }
}
