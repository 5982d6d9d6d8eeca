// An avatar style draws the pixels of one avatar from its seed's hash; sharp turns them into a PNG.

/** Pixels for sharp's raw input: 8-bit RGB, row-major, `width * height * 3` bytes. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

export abstract class AvatarStyle {
  /** Style name, as `resolveStyle` knows it and `?style=` asks for it. */
  abstract readonly name: string;

  /** One line for the README and the service's /status. */
  abstract readonly description: string;

  /**
   * Draws the size×size avatar of `hash` (its seed's 32-byte SHA-256). Must be deterministic (the
   * same hash and size give the same pixels on every instance) and cheap: it runs on the event loop.
   */
  abstract draw(hash: Buffer, size: number): RawImage;
}
