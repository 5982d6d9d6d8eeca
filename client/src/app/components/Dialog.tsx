// A modal dialog in the app's look: an overlay that closes on a click outside or Escape, a title and ×.
import { useEffect, useId, type ReactNode } from 'react';

interface Props {
  title: string;
  /** A line above the title. */
  kicker?: string;
  testId: string;
  onClose: () => void;
  children: ReactNode;
}

export function Dialog({ title, kicker, testId, onClose, children }: Props) {
  const titleId = useId();
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="overlay" onClick={onClose}>
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby={titleId} onClick={(event) => event.stopPropagation()} data-testid={testId}>
        <div className="card-head">
          <div>
            {kicker && <p className="faint">{kicker}</p>}
            <h2 id={titleId} className="dialog-title">
              {title}
            </h2>
          </div>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose} data-testid={`${testId}-close`}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
