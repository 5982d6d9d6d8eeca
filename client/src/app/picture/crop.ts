// The square crop of a picked picture, as pure geometry in the image's own pixels: a zoom (1 = the
// largest square that fits) and a centre, always kept inside the image; dragging and zooming move it.

export interface Size {
  width: number;
  height: number;
}

/** What the person chose: the zoom and the centre of the square, in image pixels. */
export interface CropView {
  zoom: number;
  centerX: number;
  centerY: number;
}

/** The square that is shown and uploaded, in image pixels. */
export interface CropSquare {
  x: number;
  y: number;
  side: number;
}

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 4;

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

function sideOf(image: Size, zoom: number): number {
  return Math.min(image.width, image.height) / clamp(zoom, MIN_ZOOM, MAX_ZOOM);
}

/** `view` with the zoom in range and the centre moved just enough for the square to stay inside the image. */
export function clampView(image: Size, view: CropView): CropView {
  const zoom = clamp(Number.isFinite(view.zoom) ? view.zoom : MIN_ZOOM, MIN_ZOOM, MAX_ZOOM);
  const half = sideOf(image, zoom) / 2;
  return { zoom, centerX: clamp(view.centerX, half, image.width - half), centerY: clamp(view.centerY, half, image.height - half) };
}

/** The whole short side, centred. */
export function initialView(image: Size): CropView {
  return { zoom: MIN_ZOOM, centerX: image.width / 2, centerY: image.height / 2 };
}

export function cropSquare(image: Size, view: CropView): CropSquare {
  const { zoom, centerX, centerY } = clampView(image, view);
  const side = sideOf(image, zoom);
  return { x: centerX - side / 2, y: centerY - side / 2, side };
}

/**
 * The view after the picture was dragged by (dx, dy) screen pixels on a preview `previewSize` pixels
 * wide: the picture follows the pointer, so the square moves the other way.
 */
export function dragged(image: Size, view: CropView, dx: number, dy: number, previewSize: number): CropView {
  const scale = sideOf(image, view.zoom) / previewSize;
  return clampView(image, { ...view, centerX: view.centerX - dx * scale, centerY: view.centerY - dy * scale });
}

/** The view at another zoom, around the same centre. */
export function zoomedTo(image: Size, view: CropView, zoom: number): CropView {
  return clampView(image, { ...view, zoom });
}
