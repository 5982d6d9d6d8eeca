// The picture the avatar benchmarks upload: pixels that look like a photograph to an encoder.

/** The 2-megapixel size users upload in the benchmarks. */
export const PHOTOGRAPH = { width: 1632, height: 1224 } as const;

/** width×height raw RGB of smooth gradients and soft waves, no flat areas. */
export function photographPixels(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      pixels[at] = (x * 255) / width;
      pixels[at + 1] = (y * 255) / height;
      pixels[at + 2] = 128 + 100 * Math.sin((x + 2 * y) / 37) * Math.cos((x - y) / 53);
    }
  }
  return pixels;
}
