// Transient messages in the corner (errors in friendly words, confirmations), with their provider and hook.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

export type ToastKind = 'error' | 'info' | 'success';

interface Toast {
  id: number;
  kind: ToastKind;
  title: string | undefined;
  text: string;
}

interface ToastApi {
  show(kind: ToastKind, text: string, title?: string): void;
}

const ToastContext = createContext<ToastApi | null>(null);

export function useToasts(): ToastApi {
  const api = useContext(ToastContext);
  if (!api) throw new Error('useToasts outside <ToastProvider>');
  return api;
}

let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((current) => current.filter((toast) => toast.id !== id)), []);
  const show = useCallback(
    (kind: ToastKind, text: string, title?: string) => {
      const id = nextId++;
      setToasts((current) => [...current.filter((toast) => toast.text !== text || toast.title !== title).slice(-3), { id, kind, title, text }]);
      setTimeout(() => dismiss(id), kind === 'error' ? 8_000 : 4_500);
    },
    [dismiss],
  );
  const api = useMemo(() => ({ show }), [show]);
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((toast) => (
          <div key={toast.id} className={`toast toast-${toast.kind}`} role={toast.kind === 'error' ? 'alert' : 'status'} data-testid="toast" data-kind={toast.kind}>
            <div className="toast-body">
              {toast.title && <strong>{toast.title}</strong>}
              <span>{toast.text}</span>
            </div>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(toast.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
