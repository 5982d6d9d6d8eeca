// Which PictureBytesStore the service uses, from PICTURE_STORE: PostgreSQL (the avatar database) by
// default; `s3` needs an S3-compatible store this build does not include yet.
import type { Config } from '../config.ts';
import type { Database } from './database.ts';
import type { PictureBytesStore } from './picture-bytes.ts';
import { PostgresPictureBytes } from './postgres-picture-bytes.ts';

export function selectPictureBytesStore(config: Readonly<Config>, db: Database): PictureBytesStore {
  if (config.PICTURE_STORE === 'postgres') return new PostgresPictureBytes(db);
  throw new Error('PICTURE_STORE=s3: this build has no S3 picture store; use PICTURE_STORE=postgres');
}
