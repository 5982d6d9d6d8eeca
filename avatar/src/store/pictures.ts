// The pictures table: each user's current picture (version and shape). The bytes live in the
// PictureBytesStore; a version's bytes are stored before this table names it and removed only
// after it names another, so a named version always has its bytes.
import type pg from 'pg';
import type { Picture } from '@notify/lib/contracts';
import type { Database } from './database.ts';

export interface PictureRow {
  userId: string;
  version: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  updatedAt: Date;
}

export function toPicture(row: PictureRow): Picture {
  return { userId: row.userId, version: row.version, format: row.format, width: row.width, height: row.height, bytes: row.bytes, updatedAt: row.updatedAt.toISOString() };
}

export class PictureTable {
  /** `direct`: the direct pool (./direct-pool.ts), for the version read of every variant request. */
  constructor(
    private readonly db: Database,
    private readonly direct: pg.Pool,
  ) {}

  /** The user's current version and its longest side in pixels, or undefined when they have no picture. */
  async current(userId: string): Promise<{ version: string; side: number } | undefined> {
    const result = await this.direct.query<{ version: string; side: number }>({
      name: 'picture-current',
      text: 'SELECT version, GREATEST(width, height) AS side FROM pictures WHERE user_id = $1',
      values: [userId],
    });
    return result.rows[0];
  }

  /** The current version of each user who has a picture. */
  async versions(userIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.db.picture.findMany({ where: { userId: { in: [...new Set(userIds)] } }, select: { userId: true, version: true } });
    return new Map(rows.map((row) => [row.userId, row.version]));
  }

  /** Names `picture` as the user's current one; returns the version it replaced (undefined: none). */
  async replace(picture: Omit<PictureRow, 'updatedAt'>): Promise<{ row: PictureRow; replaced: string | undefined }> {
    return this.db.$transaction(async (tx) => {
      const before = await tx.$queryRaw<{ version: string }[]>`SELECT version FROM pictures WHERE user_id = ${picture.userId} FOR UPDATE`;
      const data = { version: picture.version, format: picture.format, width: picture.width, height: picture.height, bytes: picture.bytes, updatedAt: new Date() };
      const row = await tx.picture.upsert({ where: { userId: picture.userId }, create: { userId: picture.userId, ...data }, update: data });
      return { row, replaced: before[0]?.version };
    });
  }

  /** Forgets the user's picture; returns the version removed (undefined: there was none). */
  async remove(userId: string): Promise<string | undefined> {
    const removed = await this.db.$queryRaw<{ version: string }[]>`DELETE FROM pictures WHERE user_id = ${userId} RETURNING version`;
    return removed[0]?.version;
  }
}
