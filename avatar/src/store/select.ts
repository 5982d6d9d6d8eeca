// Which PictureBytesStore the service uses, from PICTURE_STORE: PostgreSQL (the avatar database) by
// default, or an S3-compatible store (MinIO, AWS S3, …) with `s3`; either way behind the in-memory
// cache of bytes read recently (PICTURE_READ_CACHE_BYTES). A failure of S3 answers 503.
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { CachedPictureBytes } from './cached-picture-bytes.ts';
import type { PictureBytesStore } from './picture-bytes.ts';
import { PostgresPictureBytes } from './postgres-picture-bytes.ts';
import { answeringUnavailable, createS3PictureBytes } from './s3-picture-bytes.ts';

/** `pool`: the direct pool of the avatar database, which the postgres store reads and writes on. */
export function selectPictureBytesStore(config: Readonly<Config>, context: { pool: pg.Pool; registry: Registry }): PictureBytesStore {
  const store = config.PICTURE_STORE === 'postgres' ? new PostgresPictureBytes(context.pool) : answeringUnavailable(createS3PictureBytes(config));
  return new CachedPictureBytes(store, { maxBytes: config.PICTURE_READ_CACHE_BYTES, registry: context.registry });
}
