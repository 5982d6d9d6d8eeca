// Waiting in in-process tests, never for a fixed time: `until` checks a condition after each turn
// of the event loop; `gate` holds a fake's answer until the test lets it go; `refused` waits for a
// refusal and hands back its code, message and details.

/** Resolves once `condition()` holds; fails after `timeoutMs` (5 s) naming `what`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A held answer: `entered` resolves when something waits at the gate, `open()` lets it through. */
export function gate(): { wait: () => Promise<void>; entered: Promise<void>; open: () => void } {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return {
    wait: () => {
      enter();
      return opened;
    },
    entered,
    open: () => release(),
  };
}

/** The error `promise` rejects with, as the wire carries errors (code, message, details); fails the test if it resolves. */
export async function refused(promise: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    const { code, message, details } = error as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
    if (typeof code !== 'string') throw error;
    return { code, message: String(message), details: details ?? {} };
  }
  throw new Error('expected a refusal, but it succeeded');
}
