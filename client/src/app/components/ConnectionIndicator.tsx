// The connection's state at a glance: a coloured dot and a word (connected, reconnecting, offline).
import { useConnection } from '../api/hooks.ts';

const LABELS = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' } as const;

export function ConnectionIndicator() {
  const { state, attempt, problem } = useConnection();
  const title = [problem, state === 'reconnecting' && attempt > 0 ? `attempt ${attempt}` : null].filter(Boolean).join(' · ') || LABELS[state];
  return (
    <span className={`connection connection-${state}`} data-testid="connection-state" data-state={state} title={title} role="status">
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
