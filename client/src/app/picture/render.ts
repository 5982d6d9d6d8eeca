// Drawing the crop: onto the preview canvases, and into the square image that is uploaded (PNG when
// the crop has any transparency, else JPEG), the same drawing for both so the preview is the upload.
import type { CropSquare } from './crop.ts';

/** Side of the uploaded square, in pixels. */
export const UPLOAD_SIDE = 512;
const JPEG_QUALITY = 0.92;

/** Draws `square` of `image` over the whole of `canvas` (already sized). */
export function drawCrop(canvas: HTMLCanvasElement, image: CanvasImageSource, square: CropSquare): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(image, square.x, square.y, square.side, square.side, 0, 0, canvas.width, canvas.height);
}

function hasTransparency(canvas: HTMLCanvasElement): boolean {
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) return false;
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let alpha = 3; alpha < data.length; alpha += 4) if (data[alpha]! < 255) return true;
  return false;
}

/** The upload: the square as an UPLOAD_SIDE × UPLOAD_SIDE image. */
export async function cropToBlob(image: CanvasImageSource, square: CropSquare): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = UPLOAD_SIDE;
  canvas.height = UPLOAD_SIDE;
  drawCrop(canvas, image, square);
  const [type, quality] = hasTransparency(canvas) ? (['image/png', undefined] as const) : (['image/jpeg', JPEG_QUALITY] as const);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the picture could not be encoded'))), type, quality));
}

/** Loads a picked file as an image (EXIF orientation applied, as the browser shows it); rejects when it is not one. */
export async function loadImage(file: Blob): Promise<HTMLImageElement> {
  const url = URL.createObjectURL(file);
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
    if (!image.naturalWidth || !image.naturalHeight) throw new Error('empty image');
    return image;
  } finally {
    // The decoded image stays drawable after its address is released.
    URL.revokeObjectURL(url);
  }
}
