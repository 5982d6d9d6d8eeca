// Where the bytes of stored pictures live: the avatar service's PostgreSQL (the default) or an S3-compatible store.
export interface PictureBytesStore {
  readonly kind: 'postgres' | 's3';
  /** Stores the bytes of one version of a user's picture (idempotent: the same version, the same bytes). */
  put(userId: string, version: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The bytes of that version, or null when there are none. */
  get(userId: string, version: string): Promise<Buffer | null>;
  /** Removes that version's bytes; removing what is not there is no error. */
  delete(userId: string, version: string): Promise<void>;
  close(): Promise<void>;
}
