// Which PictureBytesStore the service uses, from PICTURE_STORE: PostgreSQL (the avatar database) by
// default, or an S3-compatible store (MinIO, AWS S3, …) with `s3`.
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { PictureBytesStore } from './picture-bytes.ts';
import { PostgresPictureBytes } from './postgres-picture-bytes.ts';
import { createS3PictureBytes } from './s3-picture-bytes.ts';

export function selectPictureBytesStore(config: Readonly<Config>, context: { registry: Registry; onPoolError: (error: Error) => void }): PictureBytesStore {
  if (config.PICTURE_STORE === 'postgres') {
    // Half the service's pool size: reads of bytes are one short query per cold variant.
    return new PostgresPictureBytes({ connectionString: config.DATABASE_URL, poolSize: Math.max(2, Math.ceil(config.DB_POOL_SIZE / 2)), ...context });
  }
  return createS3PictureBytes(config);
}
