// Which PictureBytesStore the service uses, from PICTURE_STORE: PostgreSQL (the avatar database) by
// default; `s3` needs an S3-compatible store this build does not include yet.
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { PictureBytesStore } from './picture-bytes.ts';
import { PostgresPictureBytes } from './postgres-picture-bytes.ts';

export function selectPictureBytesStore(config: Readonly<Config>, context: { registry: Registry; onPoolError: (error: Error) => void }): PictureBytesStore {
  if (config.PICTURE_STORE === 'postgres') {
    // Half the service's pool size: reads of bytes are one short query per cold variant.
    return new PostgresPictureBytes({ connectionString: config.DATABASE_URL, poolSize: Math.max(2, Math.ceil(config.DB_POOL_SIZE / 2)), ...context });
  }
  throw new Error('PICTURE_STORE=s3: this build has no S3 picture store; use PICTURE_STORE=postgres');
}
