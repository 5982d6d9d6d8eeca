// The "Profile picture" dialog: pick an image (file chooser or drag and drop), crop it to a square on a
// canvas (drag or arrow keys to move, a zoom slider), see it at the sizes the app shows it, and upload
// exactly that square (PUT /api/v1/me/avatar, with progress); or remove the picture (DELETE). The new
// avatar URL goes to the session, so every avatar of this person changes at once.
import { useCallback, useEffect, useId, useRef, useState, type DragEvent, type KeyboardEvent, type PointerEvent, type WheelEvent } from 'react';
import { isUploadedPicture } from '../api/avatar-url.ts';
import { friendlyError, isSessionLost } from '../api/errors.ts';
import { useClient } from '../api/hooks.ts';
import { PICTURE_MAX_BYTES, removePicture, uploadPicture } from '../api/picture-http.ts';
import { fileSize } from '../format.ts';
import { clampView, cropSquare, dragged, initialView, MAX_ZOOM, MIN_ZOOM, zoomedTo, type CropView } from '../picture/crop.ts';
import { cropToBlob, drawCrop, loadImage, UPLOAD_SIDE } from '../picture/render.ts';
import { useSession } from '../state/session.ts';
import { Avatar } from './Avatar.tsx';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';

/** The crop preview's size on screen (CSS pixels); the canvas has as many device pixels. */
const PREVIEW = 280;
/** The sizes the app shows avatars at (header, feed, profile card): the small previews. */
const SMALL_PREVIEWS = [28, 64] as const;
/** One arrow-key press moves the square by this share of its side; + and − zoom by this step. */
const KEY_STEP = 0.05;
const ZOOM_STEP = 0.1;

interface Picked {
  name: string;
  image: HTMLImageElement;
}

type Busy = { kind: 'reading' } | { kind: 'uploading'; progress: number } | { kind: 'removing' } | null;

/** Device pixels per CSS pixel, so the canvases are sharp on any screen. */
function pixelRatio(): number {
  return Math.min(3, Math.max(1, window.devicePixelRatio || 1));
}

export function ProfilePictureDialog({ onClose }: { onClose: () => void }) {
  const client = useClient();
  const { user, avatarChanged, reportError } = useSession();
  const hintId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const [picked, setPicked] = useState<Picked | null>(null);
  const [view, setView] = useState<CropView | null>(null);
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [dragOver, setDragOver] = useState(false);
  const [ratio] = useState(pixelRatio);
  const preview = useRef<HTMLCanvasElement>(null);
  const smallOnes = useRef<(HTMLCanvasElement | null)[]>([]);
  const chooseButton = useRef<HTMLButtonElement>(null);
  const pointer = useRef<{ id: number; x: number; y: number } | null>(null);
  const uploading = useRef<AbortController | null>(null);
  const hasPicture = isUploadedPicture(user.avatarUrl);

  // Leaving the dialog gives up an upload under way (the picture stays what it was, or becomes the new one if it already arrived).
  useEffect(() => () => uploading.current?.abort(), []);

  // Every change of the crop redraws the preview and the small ones from the same square.
  useEffect(() => {
    if (!picked || !view) return;
    const square = cropSquare(picked.image, view);
    for (const canvas of [preview.current, ...smallOnes.current]) if (canvas) drawCrop(canvas, picked.image, square);
  }, [picked, view]);

  // Keyboard users land on the crop once a picture is read, and on "Choose" when there is none.
  useEffect(() => {
    if (picked) preview.current?.focus();
    else chooseButton.current?.focus();
  }, [picked]);

  const choose = useCallback(async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    setDone(null);
    if (file.size > PICTURE_MAX_BYTES) {
      setError(`“${file.name}” is ${fileSize(file.size)}; a profile picture may be at most ${fileSize(PICTURE_MAX_BYTES)}. Pick a smaller file.`);
      return;
    }
    if (file.type && !file.type.startsWith('image/')) {
      setError(`“${file.name}” isn’t an image. Pick a PNG, JPEG, WebP, AVIF or GIF picture.`);
      return;
    }
    setBusy({ kind: 'reading' });
    try {
      const image = await loadImage(file);
      setPicked({ name: file.name, image });
      setView(initialView(image));
    } catch {
      setError(`“${file.name}” couldn’t be read as a picture. Pick a PNG, JPEG, WebP, AVIF or GIF image.`);
    } finally {
      setBusy(null);
    }
  }, []);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragOver(false);
    if (busy) return;
    void choose(event.dataTransfer.files[0]);
  };
  const onDragOver = (event: DragEvent) => {
    if (![...event.dataTransfer.types].includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragOver(true);
  };

  const onPointerDown = (event: PointerEvent<HTMLCanvasElement>) => {
    if (!picked) return;
    event.currentTarget.setPointerCapture(event.pointerId);
    pointer.current = { id: event.pointerId, x: event.clientX, y: event.clientY };
  };
  const onPointerMove = (event: PointerEvent<HTMLCanvasElement>) => {
    const last = pointer.current;
    if (!picked || !last || last.id !== event.pointerId) return;
    const dx = event.clientX - last.x;
    const dy = event.clientY - last.y;
    pointer.current = { id: event.pointerId, x: event.clientX, y: event.clientY };
    setView((current) => (current ? dragged(picked.image, current, dx, dy, PREVIEW) : current));
  };
  const onPointerUp = (event: PointerEvent<HTMLCanvasElement>) => {
    if (pointer.current?.id === event.pointerId) pointer.current = null;
  };
  const onWheel = (event: WheelEvent<HTMLCanvasElement>) => {
    if (!picked) return;
    setView((current) => (current ? zoomedTo(picked.image, current, current.zoom * (event.deltaY < 0 ? 1.08 : 1 / 1.08)) : current));
  };
  const onKeyDown = (event: KeyboardEvent<HTMLCanvasElement>) => {
    if (!picked || !view) return;
    const step = KEY_STEP * PREVIEW;
    // The picture moves the arrow's way, as when dragged.
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const move = moves[event.key];
    if (move) setView(dragged(picked.image, view, move[0], move[1], PREVIEW));
    else if (event.key === '+' || event.key === '=') setView(zoomedTo(picked.image, view, view.zoom + ZOOM_STEP));
    else if (event.key === '-' || event.key === '_') setView(zoomedTo(picked.image, view, view.zoom - ZOOM_STEP));
    else return;
    event.preventDefault();
  };

  const failed = (failure: unknown) => {
    if (isSessionLost(failure)) {
      onClose();
      reportError(failure);
    } else setError(friendlyError(failure));
  };

  const save = async () => {
    if (!picked || !view || busy) return;
    setError(null);
    setDone(null);
    setBusy({ kind: 'uploading', progress: 0 });
    const controller = new AbortController();
    uploading.current = controller;
    try {
      const blob = await cropToBlob(picked.image, cropSquare(picked.image, view));
      if (blob.size > PICTURE_MAX_BYTES) throw new Error(`the cropped picture is ${fileSize(blob.size)}`);
      const saved = await uploadPicture(client.gatewayUrl, client.token, blob, {
        signal: controller.signal,
        onProgress: (progress) => setBusy({ kind: 'uploading', progress }),
      });
      avatarChanged(saved.avatarUrl);
      setPicked(null);
      setView(null);
      setDone('Your new picture is saved.');
    } catch (failure) {
      if (controller.signal.aborted) return;
      failed(failure);
    } finally {
      if (uploading.current === controller) uploading.current = null;
      if (!controller.signal.aborted) setBusy(null);
    }
  };

  const remove = async () => {
    if (busy) return;
    setError(null);
    setDone(null);
    setBusy({ kind: 'removing' });
    try {
      const removed = await removePicture(client.gatewayUrl, client.token);
      avatarChanged(removed.avatarUrl);
      setDone('Your picture is removed; your generated avatar is back.');
    } catch (failure) {
      failed(failure);
    } finally {
      setBusy(null);
    }
  };

  const pickAnother = () => fileInput.current?.click();
  const zoomPercent = view ? Math.round(view.zoom * 100) : 100;

  return (
    <Dialog title="Profile picture" kicker="Your account" testId="picture-dialog" onClose={onClose}>
      <div
        className={dragOver ? 'picture-body drag-over' : 'picture-body'}
        onDragOver={onDragOver}
        onDragLeave={() => setDragOver(false)}
        onDrop={onDrop}
        data-testid="picture-drop-zone"
      >
        <input
          ref={fileInput}
          className="visually-hidden"
          type="file"
          accept="image/*"
          tabIndex={-1}
          aria-label="Picture file"
          disabled={busy !== null}
          onChange={(event) => {
            void choose(event.target.files?.[0]);
            // The same file picked again still counts as a change.
            event.target.value = '';
          }}
          data-testid="picture-file"
        />
        {picked && view ? (
          <div className="picture-crop">
            <canvas
              ref={preview}
              className="picture-canvas"
              width={Math.round(PREVIEW * ratio)}
              height={Math.round(PREVIEW * ratio)}
              style={{ width: PREVIEW, height: PREVIEW }}
              tabIndex={0}
              role="img"
              aria-label={`Crop of ${picked.name}: the square that will be saved`}
              aria-describedby={hintId}
              onPointerDown={onPointerDown}
              onPointerMove={onPointerMove}
              onPointerUp={onPointerUp}
              onPointerCancel={onPointerUp}
              onWheel={onWheel}
              onKeyDown={onKeyDown}
              data-testid="picture-crop"
              data-crop={JSON.stringify(cropSquare(picked.image, view))}
            />
            <p id={hintId} className="faint picture-hint">
              This square is exactly what will be saved ({UPLOAD_SIDE} × {UPLOAD_SIDE} px). Drag it, or focus it and use the arrow keys, to move; + and − zoom.
            </p>
            <label className="field picture-zoom">
              <span>Zoom ({zoomPercent}%)</span>
              <input
                type="range"
                min={MIN_ZOOM}
                max={MAX_ZOOM}
                step={0.01}
                value={view.zoom}
                aria-valuetext={`${zoomPercent}%`}
                disabled={busy !== null}
                onChange={(event) => setView(clampView(picked.image, zoomedTo(picked.image, view, Number(event.target.value))))}
                data-testid="picture-zoom"
              />
            </label>
          </div>
        ) : (
          <div className="picture-empty">
            <span className="picture-current">
              <Avatar path={user.avatarUrl} name={user.name} size={128} requestSize={128} testId="picture-current" />
            </span>
            <p>{hasPicture ? 'This is your picture.' : 'You’re using the generated avatar.'} Drop an image here, or choose one from your device.</p>
            <button ref={chooseButton} type="button" className="button button-secondary" onClick={pickAnother} disabled={busy !== null} data-testid="picture-choose">
              Choose a picture…
            </button>
            <p className="faint">PNG, JPEG, WebP, AVIF or GIF, up to {fileSize(PICTURE_MAX_BYTES)}. You can crop it next.</p>
          </div>
        )}
        {picked && view && (
          <div className="picture-side">
            <p className="section-title">How it will look</p>
            <div className="picture-smalls">
              {SMALL_PREVIEWS.map((size, index) => (
                <canvas
                  key={size}
                  ref={(canvas) => {
                    smallOnes.current[index] = canvas;
                  }}
                  className={size < 40 ? 'avatar picture-small round' : 'avatar picture-small'}
                  width={Math.round(size * ratio)}
                  height={Math.round(size * ratio)}
                  style={{ width: size, height: size }}
                  aria-hidden="true"
                />
              ))}
            </div>
            <button type="button" className="button button-ghost button-small" onClick={pickAnother} disabled={busy !== null} data-testid="picture-choose-another">
              Choose another…
            </button>
          </div>
        )}
      </div>
      {busy?.kind === 'uploading' && (
        <div className="picture-progress" role="status" data-testid="picture-progress">
          <progress max={1} value={busy.progress} aria-label="Upload progress" />
          <span>Uploading… {Math.round(busy.progress * 100)}%</span>
        </div>
      )}
      {busy?.kind === 'reading' && (
        <p className="muted" role="status">
          Reading the picture…
        </p>
      )}
      <ErrorNote text={error} testId="picture-error" />
      {done && (
        <p className="success-note" role="status" data-testid="picture-done">
          {done}
        </p>
      )}
      <div className="dialog-actions">
        {hasPicture && !picked && (
          <button type="button" className="button button-ghost picture-remove" onClick={() => void remove()} disabled={busy !== null} data-testid="picture-remove">
            {busy?.kind === 'removing' ? 'Removing…' : 'Remove picture'}
          </button>
        )}
        <button type="button" className="button button-ghost" onClick={onClose}>
          {done ? 'Close' : 'Cancel'}
        </button>
        {picked && (
          <button type="button" className="button button-primary" onClick={() => void save()} disabled={busy !== null} data-testid="picture-save">
            {busy?.kind === 'uploading' ? 'Saving…' : 'Save picture'}
          </button>
        )}
      </div>
    </Dialog>
  );
}
